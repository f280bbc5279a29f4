#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: compat_facts
short_description: Gather Hyper-V compatibility vectors and migration service state from a host
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - Reads, over WS-Management from the Ansible controller, what a live-migration decision needs from a
    Hyper-V host. The host's own compatibility vectors, its migration service (whether live migration is
    enabled, listener addresses, active migrations and their limits) and, for the VMs asked for, their id,
    name, state, configuration version and compatibility vectors.
  - Run it against the Hyper-V hosts of the inventory, for example in a play with C(hosts=hyperv). It uses each host's own
    winrm or psrp connection settings and credentials; nothing is executed on the host.
  - Its cost is fixed and never grows with a per-VM enumeration. One enumeration for the migration service, one for
    the VMs when VMs are asked for, one method call per VM for its vectors and one more per VM when O(include_blob)
    is set. Each optional part of O(gather_subset) costs a fixed number of requests per host, one for most of them.
  - The per-VM method calls are spread over O(connections) connections to the host, so that a host with many VMs
    is read in a fraction of the time; the requests are the same whatever their number.
options:
  vms:
    description:
      - The VMs to report, by name or id (GUID), as a list, or V(all) for every VM on the host. None by default.
      - Hyper-V allows several VMs with one name; such a name is an error that lists their ids, and an id is
        always accepted.
    type: raw
  include_blob:
    description:
      - Also read each VM's opaque compatibility blob (C(GetSystemCompatibilityInfo)), which
        M(vmgate.hyperv.compat_check) hands to a destination host to check.
    type: bool
    default: false
  gather_subset:
    description:
      - The optional parts to read, each one request per host. V(host_vectors) is the host's own compatibility
        vectors, which a host needs when it is a destination. V(migration_settings) is whether live migration is
        enabled and the limits on simultaneous migrations. V(configuration_versions) is the VMs' configuration versions.
        V(cluster) is the host's failover cluster (C(root/MSCluster)) and each VM's role in it, one request on a host
        that is no cluster node and five on a node.
      - V(memory) is the host's physical memory, its free memory and its logical processors (two requests to
        C(root/cimv2), for C(Win32_OperatingSystem) and C(Win32_ComputerSystem)), and each VM's memory and virtual
        processors (C(Msvm_MemorySettingData) and C(Msvm_ProcessorSettingData), and C(Msvm_Memory) when a VM asked for
        runs). That is four or five requests per host, whatever the number of VMs. The account must be allowed to read
        C(root/cimv2); leave the part out with V(!memory) where it is not.
      - V(all) reads every part and V(min) none. A name that starts with V(!) leaves that part out, and a list of
        such exclusions alone starts from V(all). This follows the rules of C(ansible.builtin.setup).
      - The migration service, and the VMs asked for with their state and vectors, are always read.
      - A part left out is reported as null. For example, C(live_migration_enabled) is null, which means unknown, not off.
    type: list
    elements: str
    default: [all]
  connections:
    description:
      - How many connections to the host read the VMs at a time, from 1 to 16. Each is a WinRM connection of its own,
        authenticated once, that carries one request at a time; each takes the next VM as soon as it is done with one.
      - No more connections are opened than there are VMs asked for. V(1) reads one VM after another over one connection.
      - The facts, their order, the requests sent and the failures reported are the same whatever the number. A VM
        whose read fails fails the task with its name, as with one connection, and no VM read starts after the failure.
      - WinRM's defaults allow far more, 300 requests at once to the service (C(MaxConnections)) and 1500 operations
        at once per user (C(MaxConcurrentOperationsPerUser)), unless the host's WinRM configuration sets them lower.
    type: int
    default: 8
extends_documentation_fragment:
  - vmgate.hyperv.namespace
  - vmgate.hyperv.read_only
  - vmgate.hyperv.winrm
seealso:
  - plugin: vmgate.hyperv.rank_hosts
    plugin_type: filter
  - plugin: vmgate.hyperv.compat_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Gather the vectors of the hosts and of the VMs to move
  vmgate.hyperv.compat_facts:
    vms: [web01, db01]

- name: Gather every VM of a cluster node, through the cluster namespace
  vmgate.hyperv.compat_facts:
    vms: all
    namespace: root/HyperVCluster/v2

- name: Read only what a migration source needs (the VM's vectors and blob, and the service to call)
  vmgate.hyperv.compat_facts:
    vms: [web01]
    include_blob: true
    gather_subset: [min]

- name: Read every VM of a large host over 16 connections at a time
  vmgate.hyperv.compat_facts:
    vms: all
    connections: 16

- name: Reach a host over HTTPS with a private CA
  vmgate.hyperv.compat_facts:
    vms: [6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A]
    include_blob: true
    ca_trust_path: /etc/pki/hyperv-ca.pem

- name: Decide whether web01, gathered on hv01, can run on hv02
  ansible.builtin.debug:
    msg: "{{ web01.vectors | vmgate.hyperv.compat_report(hostvars['hv02'].hyperv_compat.host.vectors) }}"
  vars:
    web01: "{{ hostvars['hv01'].hyperv_compat.vms | selectattr('name', '==', 'web01') | first }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts, under C(hyperv_compat).
  returned: success
  type: dict
  contains:
    hyperv_compat:
      description: What the host reported.
      type: dict
      contains:
        gathered_at:
          description: When the facts were read (UTC, ISO 8601). Vectors change when a VM restarts, so old facts go stale.
          type: str
          sample: "2026-11-21T08:15:02+00:00"
        gather_subset:
          description: The optional parts that were read (see O(gather_subset)); what the others fill in is null.
          type: list
          elements: str
          sample: [cluster, configuration_versions, host_vectors, memory, migration_settings]
        host:
          description: The host.
          type: dict
          contains:
            name:
              description: The host's computer name (C(Msvm_ComputerSystem.Name)).
              type: str
              sample: HV01
            namespace:
              description: The WMI namespace used.
              type: str
              sample: root/virtualization/v2
            endpoint:
              description: The WinRM endpoint reached.
              type: str
              sample: https://hv01.example.com:5986/wsman
            vectors:
              description: >-
                The host's compatibility vectors (C(vector_id), C(compare_operation), C(compatibility_info)); null
                unless O(gather_subset) includes V(host_vectors).
              type: list
              elements: dict
            migration_service:
              description: The migration service and its settings.
              type: dict
              contains:
                enabled_state:
                  description: The service's C(EnabledState).
                  type: int
                live_migration_enabled:
                  description: >-
                    C(EnableVirtualSystemMigration), whether the host accepts and sends live migrations; null (unknown)
                    unless O(gather_subset) includes V(migration_settings).
                  type: bool
                listener_addresses:
                  description: C(MigrationServiceListenerIPAddressList), the addresses migrations arrive on.
                  type: list
                  elements: str
                active_vm_migrations:
                  description: Live migrations in progress.
                  type: int
                active_storage_migrations:
                  description: Storage migrations in progress.
                  type: int
                max_vm_migrations:
                  description: The limit of simultaneous live migrations; null unless the settings were read.
                  type: int
                max_storage_migrations:
                  description: The limit of simultaneous storage migrations; null unless the settings were read.
                  type: int
                selectors:
                  description: >-
                    The service's key properties (its WS-Management selectors), with which later tasks
                    (M(vmgate.hyperv.compat_check)) call its methods without reading it again.
                  type: dict
            cluster_node:
              description: Whether the host is a node of a failover cluster; null unless O(gather_subset) includes V(cluster).
              type: bool
            memory:
              description: >-
                The host's memory and processors; every figure is null unless O(gather_subset) includes V(memory).
              type: dict
              contains:
                total_mb:
                  description: The physical memory Windows sees, in MB (C(Win32_OperatingSystem.TotalVisibleMemorySize)).
                  type: int
                free_mb:
                  description: >-
                    The memory free now, in MB (C(Win32_OperatingSystem.FreePhysicalMemory)). Hyper-V gives VMs their
                    memory from it, so it is what a VM moved or started here can have, before any reserve the host keeps.
                  type: int
                logical_processors:
                  description: The host's logical processors (C(Win32_ComputerSystem.NumberOfLogicalProcessors)).
                  type: int
            cluster:
              description: The host's failover cluster; null when it is no cluster node or the cluster was not read.
              type: dict
              contains:
                name:
                  description: The cluster's name (C(MSCluster_Cluster.Name)).
                  type: str
                node:
                  description: This host's node name in the cluster.
                  type: str
                nodes:
                  description: >-
                    Every node by name, with its C(state) (V(up), V(down), V(paused), V(joining), V(unknown)) and its
                    C(drain_status) (V(not initiated), V(in progress), V(completed), V(failed)).
                  type: dict
        vms:
          description: The VMs asked for, in the order asked (all VMs for V(all)).
          type: list
          elements: dict
          contains:
            id:
              description: The VM's id (C(Msvm_ComputerSystem.Name), a GUID).
              type: str
            name:
              description: The VM's name (C(ElementName)).
              type: str
            state:
              description: C(EnabledState), for example 2 (Running), 3 (Off), 32769 (Saved).
              type: int
            state_name:
              description: The state's name.
              type: str
            configuration_version:
              description: >-
                The VM's configuration version, for example V(10.0); null unless O(gather_subset) includes
                V(configuration_versions).
              type: str
            vectors:
              description: The VM's compatibility vectors.
              type: list
              elements: dict
            compatibility_info:
              description: The opaque compatibility blob, base64-encoded.
              type: str
              returned: when O(include_blob=true)
            compatibility_info_encoding:
              description: How the host sent the blob (V(base64) or V(array)), so it can be sent back the same way.
              type: str
              returned: when O(include_blob=true)
            memory:
              description: >-
                The VM's memory, in MB; every figure is null unless O(gather_subset) includes V(memory), and a figure the
                host did not report is null.
              type: dict
              contains:
                assigned_mb:
                  description: >-
                    The memory the VM holds now (C(Msvm_Memory)); null while it holds none (off or saved).
                  type: int
                startup_mb:
                  description: The startup memory (C(Msvm_MemorySettingData.VirtualQuantity)), all of it without Dynamic Memory.
                  type: int
                minimum_mb:
                  description: >-
                    Dynamic Memory's minimum (C(Reservation)); the startup memory when Dynamic Memory is off.
                  type: int
                maximum_mb:
                  description: >-
                    Dynamic Memory's maximum (C(Limit)); the startup memory when Dynamic Memory is off.
                  type: int
                dynamic:
                  description: Whether Dynamic Memory is on (C(DynamicMemoryEnabled)).
                  type: bool
                needed_mb:
                  description: >-
                    What a destination must have free to take the VM now. While the VM runs (or is paused), the memory it
                    holds, which a live migration moves and Hyper-V allocates on the destination when the migration starts.
                    Off or saved, its startup memory, which it needs when it starts there. Null when that cannot be told,
                    for example a running VM with Dynamic Memory whose current memory was not reported.
                  type: int
            virtual_processors:
              description: >-
                The VM's virtual processors (C(Msvm_ProcessorSettingData.VirtualQuantity)); null unless O(gather_subset)
                includes V(memory).
              type: int
            cluster:
              description: >-
                The VM's role in the host's failover cluster: C(cluster), C(group), C(resource), C(owner_node),
                C(state) (the resource's), C(migration_state) (V(none), V(setup), V(data transfer), V(move),
                V(canceled), V(failure)), C(possible_owners) and C(preferred_owners); null when the VM is not
                clustered or O(gather_subset) leaves out V(cluster).
              type: dict
              returned: when O(gather_subset) includes V(cluster)
"""
