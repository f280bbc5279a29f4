# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's actions reach a Hyper-V host's WinRM service."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - The host's address. Defaults to the inventory host's own connection address (C(ansible_host)).
    type: str
  port:
    description:
      - The WinRM port. Defaults to the host's C(ansible_port), else 5986 for HTTPS and 5985 for HTTP.
    type: int
  scheme:
    description:
      - V(https) or V(http). Defaults to C(ansible_winrm_scheme) (or the psrp protocol), else V(http) on port 5985 and
        V(https) otherwise, as Ansible's winrm connection does.
    type: str
    choices: [http, https]
  path:
    description: The WinRM URL path. Defaults to the connection's, else V(/wsman).
    type: str
  username:
    description:
      - The account to connect as. Defaults to the host's C(ansible_user), which is where an AWX machine credential
        puts it.
      - The account must be a member of Hyper-V Administrators and Remote Management Users on the host.
    type: str
  password:
    description:
      - The account's password. Defaults to the host's connection password (C(ansible_password), or the password an
        AWX machine credential or C(--ask-pass) supplies).
    type: str
  transport:
    description:
      - The authentication, as pywinrm names it. Defaults to C(ansible_winrm_transport) (or the psrp auth), else
        Ansible's choice, V(kerberos) for C(user@REALM) and Basic otherwise.
      - V(ntlm), V(kerberos) and V(credssp) encrypt messages even over HTTP. Basic authentication (V(basic),
        V(plaintext), or V(ssl) without a client certificate) over plain HTTP is refused unless
        O(allow_basic_over_http) is set.
    type: str
    choices: [ntlm, kerberos, credssp, basic, plaintext, ssl, certificate]
  validate_certs:
    description:
      - Whether to validate the host's TLS certificate. Defaults to C(ansible_winrm_server_cert_validation) (or the
        psrp cert_validation), else V(true). Turn it off only in a lab.
    type: bool
  ca_trust_path:
    description:
      - A file or directory of CA certificates to validate the host's certificate with. Defaults to
        C(ansible_winrm_ca_trust_path) (or the psrp ca_cert).
    type: path
  message_encryption:
    description:
      - Message encryption for NTLM, Kerberos and CredSSP. V(auto) encrypts over HTTP. Defaults to
        C(ansible_winrm_message_encryption), else V(auto).
    type: str
    choices: [auto, always, never]
  operation_timeout:
    description: Seconds the host may spend on one WS-Management operation.
    type: int
  read_timeout:
    description: Seconds to wait for a reply; longer than O(operation_timeout).
    type: int
  allow_basic_over_http:
    description:
      - Allow Basic authentication over plain HTTP, which sends the password in the clear. For a lab only.
    type: bool
    default: false
notes:
  - Connection settings come from the inventory host's own winrm or psrp connection settings (C(ansible_host),
    C(ansible_port), C(ansible_user), the password, C(ansible_winrm_*) or C(ansible_psrp_*) variables); the
    options above override them. Nothing runs on the host but WS-Management requests to its WinRM service.
  - Requires C(pywinrm) on the controller (or in the execution environment).
"""
