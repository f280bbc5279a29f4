#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: vm_move
short_description: Live-migrate a Hyper-V VM to another host and follow the job to its end
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - The C(Move-VM) equivalent, over WS-Management from the controller. It calls C(MigrateVirtualSystemToHost) on the
    VM's current host (the host the task runs on or is delegated to), polls the migration job until it ends, and
    confirms the VM runs on the destination in the state it had before.
  - It does not decide whether the move is wise; put the C(vmgate.hyperv.migration_gate) role or
    M(vmgate.hyperv.compat_check) in front of it.
  - A VM that is a role of a failover cluster moves through its cluster
    (C(MSCluster_ResourceGroup.MoveToNewNodeParams), a live migration that returns the VM to its node on error), and
    the move is followed on the role's owner node and C(MigrationState). It is never moved with
    C(MigrateVirtualSystemToHost), which would move it behind the cluster's back; a destination that is not a node of
    its cluster, or that the cluster would refuse (down, paused, not a possible owner), fails the task and nothing is
    sent. Asking the source's cluster costs one request on a host that is no cluster node.
  - Idempotent. A VM already on the destination is reported V(ok), not changed.
  - The migration request is sent once. After a transport failure it asks the hosts which job runs for the VM and
    where the VM is, and reports that; it never sends the request again. A job that cannot be read while it runs is
    followed by where the VM is and by the source's list of the VM's jobs, until O(timeout). A destination that
    cannot be read after the move gives a failure that says where the VM most likely is.
  - One answer is waited out and the request sent again, within O(limit_wait) seconds - Hyper-V refusing the request
    because the source or the destination already runs as many live migrations as it allows
    (C(MaximumActiveVirtualSystemMigration); the job ends at 0% with "The migration limit of N was reached").
    Gates running in parallel can all see a free slot and race for it. Before each new request the source must still
    hold the VM with no migration job running for it, so a refused request is never followed by a second migration.
options:
  vm:
    description: The VM's name or id (GUID). A name several VMs share is an error; use the id.
    type: str
    required: true
  destination:
    description:
      - The inventory name of the destination host. It is reached with its inventory variables (and this task's
        credentials where it has none) to read its migration listeners and to confirm the VM arrived.
    type: str
    required: true
  destination_host:
    description: The name the source uses to reach the destination. Defaults to the destination's computer name.
    type: str
  migration_type:
    description:
      - V(live) moves the running VM (C(MigrationType) VirtualSystem). V(live_and_storage) moves its storage too
        (VirtualSystemAndStorage) to O(destination_path).
    type: str
    default: live
    choices: [live, live_and_storage]
  destination_path:
    description: Where the VM's files go with O(migration_type=live_and_storage).
    type: str
  timeout:
    description:
      - Seconds to follow the job. A job still running then is not cancelled; the task fails and says so.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two looks at the job. Near its end the job is looked at sooner (at most every 0.2 s), when
        its progress so far says it ends within less than this.
    type: float
    default: 1.0
  expected_state:
    description:
      - The VM's C(EnabledState) when the decision to move it was made. If the VM is in another state now, nothing
        moves and the task fails, since the decision may no longer hold.
    type: int
  limit_wait:
    description:
      - Seconds to keep asking when Hyper-V refuses the migration because the source or the destination is at its
        limit of concurrent live migrations. Every O(limit_poll) seconds the request is sent again, once the source
        confirms the VM is still there and no migration job runs for it. V(0) fails at the first refusal.
      - Only that refusal is retried. A request whose reply was lost is never sent again, and any other failed job
        fails the task.
    type: int
    default: 0
  limit_poll:
    description:
      - Seconds between two requests while O(limit_wait) lasts; each wait is stretched by up to a quarter at random,
        so that gates waiting for the same host do not all ask at the same moment.
    type: float
    default: 5.0
extends_documentation_fragment:
  - vmgate.hyperv.namespace
  - vmgate.hyperv.winrm
attributes:
  check_mode:
    support: full
    description: Reports what would move; nothing is sent.
  diff_mode:
    support: none
    description: No diff.
seealso:
  - module: vmgate.hyperv.compat_check
  - module: vmgate.hyperv.compat_facts
"""

EXAMPLES = r"""
- name: Move web01 from hv01 to hv02, live
  vmgate.hyperv.vm_move:
    vm: web01
    destination: hv02
  delegate_to: hv01

- name: Move a VM and its storage
  vmgate.hyperv.vm_move:
    vm: 6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A
    destination: hv02
    migration_type: live_and_storage
    destination_path: D:\Hyper-V\web01
    timeout: 3600
  delegate_to: hv01

- name: Move web01; if hv02 is at its live-migration limit, ask again every 10 s for up to 5 minutes
  vmgate.hyperv.vm_move:
    vm: web01
    destination: hv02
    limit_wait: 300
    limit_poll: 10
  delegate_to: hv01
"""

RETURN = r"""
changed:
  description: V(true) when the VM moved (or would move, in check mode).
  returned: always
  type: bool
msg:
  description: What happened, in a sentence.
  returned: success
  type: str
job_id:
  description: The migration job's C(InstanceID), when a job ran.
  returned: success
  type: str
duration:
  description: Seconds from the request Hyper-V accepted to the confirmation.
  returned: success
  type: float
progress:
  description: Each change of the job's progress, with seconds since the request.
  returned: success
  type: list
  elements: dict
  sample: [{elapsed: 0.5, percent: 40, job_state: Running}, {elapsed: 1.6, percent: 100, job_state: Completed}]
vm:
  description: The VM's C(id) and C(name).
  returned: success
  type: dict
final:
  description: Where the VM is afterwards (C(host), the inventory name) and its C(state) and C(state_name).
  returned: success
  type: dict
limit_refusals:
  description: How many requests Hyper-V refused because a host was at its live-migration limit before one was accepted.
  returned: success
  type: int
limit_waited:
  description: Seconds from the first such refusal to the request that was accepted (V(0) without a refusal).
  returned: success
  type: float
through_cluster:
  description: The failover cluster that moved the VM (a clustered VM), or null (Hyper-V moved it).
  returned: success
  type: str
"""
