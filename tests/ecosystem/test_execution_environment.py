"""The execution environment: meta/execution-environment.yml, its requirement files, the example definition in docs/
(tools/checks.py:execution_environment runs ansible-builder create and introspect; no container engine)."""

from __future__ import annotations

import checks
import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement
from tool_result import require_success

ROOT = checks.ROOT


def requirements(path):
    return {requirement.name: requirement for requirement in map(Requirement, checks.requirement_lines(path))}


@pytest.mark.ecosystem
def test_ansible_builder_puts_the_collections_requirements_into_the_image():
    """create on the example and on the collection's definition, the galaxy stage and introspection all agree."""
    require_success('execution environment check', checks.execution_environment(capture=True))


def test_python_requirements_carry_every_winrm_transport_in_the_controllers_version_ranges():
    ee = requirements(checks.ee_dependency_files()['python'])
    assert {'kerberos', 'credssp'} <= ee['pywinrm'].extras
    assert 'kerberos' in ee['pyspnego'].extras
    for name, controller in requirements(ROOT / 'requirements.txt').items():
        assert name in ee and ee[name].specifier == controller.specifier, (
            f'{name}: {ee.get(name)} in the execution environment, {controller} on the controller')


@pytest.mark.parametrize('platform, build, runtime', [
    (['platform:rpm', 'platform:redhat'], {'gcc', 'python3-devel', 'krb5-devel'}, {'krb5-libs', 'krb5-workstation'}),
    (['platform:dpkg', 'platform:debian'], {'gcc', 'python3-dev', 'libkrb5-dev'}, {'libgssapi-krb5-2', 'krb5-user'}),
])
def test_bindep_gives_the_builder_compilers_and_headers_and_the_image_kerberos(platform, build, runtime):
    """As ansible-builder asks bindep: `-b compile` in the builder stage, the default profile for the final image."""
    depends = Depends(checks.ee_dependency_files()['system'].read_text(encoding='utf-8'))
    final_image = {rule[0] for rule in depends.active_rules([*platform, 'default'])}
    builder = {rule[0] for rule in depends.active_rules([*platform, 'compile'])}
    assert final_image == runtime
    assert builder == build | runtime


def test_example_definition_installs_this_version_of_the_collection():
    example = yaml.safe_load(checks.EE_EXAMPLE.read_text(encoding='utf-8'))
    assert example['version'] == 3
    assert example['dependencies']['galaxy']['collections'][0] == {'name': f'collections/{checks.artifact_name()}', 'type': 'file'}
    assert example['additional_build_files'] == [{'src': checks.artifact_name(), 'dest': 'collections'}]
