# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every filter and test of the compatibility engine says about its input."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
notes:
  - A vector list is a list of C(Msvm_CompatibilityVector) entries, each a mapping with the keys
    C(vector_id), C(compare_operation) and C(compatibility_info) (as in the C(hyperv_compat) facts
    that C(vmgate.hyperv.compat_facts) gathers), or the WMI property names C(VectorId),
    C(CompareOperation) and C(CompatibilityInfo) (as PowerShell's C(ConvertTo-Json) gives them).
    Values are integers or decimal strings; ids and operations are uint32, values uint64.
  - The VM's value is the left operand of the comparison and the VM vector's operation governs
    (0 Equal, 1 Superset, 2 Subset, 3 Disjoint, 4 GreaterThan, 5 GreaterThanOrEqual, 6 LessThan,
    7 LessThanOrEqual, 8 Multiple, 9 Divisible). A VM is compatible with a host when every one of
    its vectors passes against the host's vector of the same id.
  - Fail closed. A VM vector the host does not report, an operation outside 0-9, Multiple against
    a host value of 0, Divisible with a VM value of 0 and a VM with no vectors each make the pair
    incompatible, with a reason. Host vectors the VM does not carry are ignored.
  - Malformed input is an error, never a verdict. A value that is negative, fractional, boolean,
    non-numeric or out of range, a missing key, an id repeated within one list, or a list or entry
    of the wrong type raises an error that names the field, the value and its position, for
    example C(vm_vectors[2].compatibility_info).
"""
