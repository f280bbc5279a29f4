# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_report_files: write the fleet report's HTML, Markdown and facts files (see the module docs).

The report is computed and laid out in Python (plugin_utils/report/pages.py); this reads the options, the facts file
and the plan file, and writes the files. Its result is a summary, never the matrix.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.reserve import DEFAULT_RESERVE_MB
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.fleet_facts import fleet_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import is_blank
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.report import pages

SOURCES = ("fleet", "facts_by_host", "facts_file")
PLANS = ("plan", "plan_file")
DECISIONS_KEY = "migration_gate_decisions"  # a plan file may hold AWX's artifacts: the decisions under this key
ARGUMENT_SPEC = {
    "fleet": {"type": "dict"},
    "facts_by_host": {"type": "dict"},
    "facts_file": {"type": "path"},
    "dest": {"type": "path", "required": True},
    "title": {"type": "str", "default": pages.DEFAULT_TITLE},
    "source": {"type": "str"},
    "return_markdown": {"type": "bool", "default": False},
    # raw: the plan and the reserve are checked literally by the engine, never converted
    "plan": {"type": "raw"},
    "plan_file": {"type": "path"},
    "memory_reserve_mb": {"type": "raw", "default": DEFAULT_RESERVE_MB},
}
BLANK_IS_DEFAULT = ("facts_file", "title", "source", "plan", "plan_file", "memory_reserve_mb")
FILES = {"html": "fleet-report.html", "markdown": "fleet-report.md", "facts": "fleet-facts.json"}
FILE_MODE = 0o644
DIRECTORY_MODE = 0o755
VAULT_HEADER = b"$ANSIBLE_VAULT"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True  # check mode computes everything and writes nothing
        result = super().run(tmp, task_vars)
        args = self._arguments()
        dest = _directory(args["dest"])  # checked in check mode too: a check run says what the run would do
        fleet, source = self._fleet(args)
        plan = self._plan(args)
        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        try:
            report_pages = pages.pages(fleet, args["title"], args["source"] or source, generated, plan,
                                       args["memory_reserve_mb"])
        except VectorInputError as exc:
            raise AnsibleActionFail(str(exc)) from None
        texts = {"html": report_pages.html, "markdown": report_pages.markdown, "facts": report_pages.facts}
        files = {kind: os.path.join(dest, name) for kind, name in FILES.items()}
        for path in files.values():
            if os.path.isdir(path):
                raise AnsibleActionFail(f"Cannot write the fleet report to {dest}: {path} is a directory; the report "
                                        "writes a file of that name there. Move it away, or give another dest.")
        changed = [kind for kind, path in files.items() if _differs(path, texts[kind])]
        if not self._task.check_mode:
            _write(dest, {files[kind]: texts[kind] for kind in changed})
        sizes = {kind: len(text.encode("utf-8")) for kind, text in texts.items()}
        verb = "Would write" if self._task.check_mode else "Wrote"
        written = ", ".join(f"{files[kind]} ({sizes[kind]:,} bytes)" for kind in changed)
        result.update(
            changed=bool(changed),
            msg=f"{verb} {written}" if changed else f"The files in {dest} are up to date",
            files=files,
            written=[files[kind] for kind in changed],
            bytes=sizes,
            source=args["source"] or source,
            **pages.artifact_summary(report_pages.report),
        )
        if args["return_markdown"]:
            result["markdown"] = report_pages.markdown
        return result

    def _arguments(self):
        """The options, checked; one left blank, as AWX's launch form sends an unanswered question, is not given
        (dest, required, is refused when blank)."""
        given = {key: value for key, value in self._task.args.items() if key not in BLANK_IS_DEFAULT or not is_blank(value)}
        validation = ArgumentSpecValidator(ARGUMENT_SPEC, mutually_exclusive=[SOURCES, PLANS],
                                           required_one_of=[SOURCES]).validate(given)
        if validation.error_messages:  # worded as ActionBase.validate_argument_spec words them
            unsupported = isinstance(validation.errors[0], UnsupportedError)
            prefix = f"Unsupported parameters for ({self._load_name}) module: " if unsupported else ""
            raise AnsibleActionFail(prefix + validation.errors.msg)
        return validation.validated_parameters

    def _fleet(self, args):
        """({hosts, vms}, where it came from) from whichever of fleet, facts_by_host and facts_file is given."""
        try:
            if args["fleet"] is not None:
                return args["fleet"], "the fleet given to the task"
            if args["facts_by_host"] is not None:
                return fleet_facts(args["facts_by_host"]), f"compat_facts of {len(args['facts_by_host'])} hosts"
            path = self._facts_path(args["facts_file"])
            return pages.fleet_from_file(self._load(path), f"facts file {path}"), f"facts file {args['facts_file']}"
        except VectorInputError as exc:
            raise AnsibleActionFail(str(exc)) from None

    def _plan(self, args):
        """The gate's decisions of the planned wave, or None: given (plan), or read from plan_file, which holds them
        as migration_gate_decisions is published (VM -> decision) or under that key (AWX's artifacts of the job)."""
        if args["plan_file"] is None:
            return args["plan"]
        path = self._facts_path(args["plan_file"])
        data = self._load(path, "plan file")
        if isinstance(data, dict) and DECISIONS_KEY in data:
            return data[DECISIONS_KEY]
        return data

    def _facts_path(self, path):
        """A relative path is taken from the directory ansible-playbook runs in, else where include_vars looks."""
        if os.path.isabs(path) or os.path.exists(path):
            return os.path.abspath(path)
        return self._find_needle("vars", path)

    def _load(self, path, what="facts file"):
        """JSON (a saved fleet-facts.json) or YAML; an ansible-vault encrypted file through Ansible's loader."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise AnsibleActionFail(f"Cannot read the {what} {path}: {exc.strerror}") from None
        if data.lstrip().startswith(VAULT_HEADER):
            return self._loader.load_from_file(path)
        try:
            return json.loads(data)
        except ValueError:
            pass
        try:
            return yaml.load(data, Loader=_YAML_LOADER)  # nosec B506: a safe loader
        except yaml.YAMLError as exc:
            raise AnsibleActionFail(f"The {what} {path} is neither JSON nor YAML: {exc}") from None


def _directory(dest):
    """dest as an absolute path, once it is known the report's directory can be there: not blank, and neither it nor
    the nearest of its parents that exists a file (the directories missing are created when the files are written)."""
    if is_blank(dest):
        raise AnsibleActionFail(f"dest is blank ({dest!r}): give the directory to write the report to.")
    dest = os.path.realpath(dest)
    existing = dest
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise AnsibleActionFail(f"Cannot write the fleet report to {dest}: {existing} is a file, not a directory. "
                                "Give a directory as dest (it is created when missing).")
    return dest


def _differs(path, text):
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read() != text
    except (OSError, UnicodeDecodeError):
        return True


def _write(dest, texts):
    """Each file whole or not at all: written next to its place, then renamed over it."""
    try:
        if not os.path.isdir(dest):
            os.makedirs(dest)
            os.chmod(dest, DIRECTORY_MODE)
        for path, text in texts.items():
            handle, temporary = tempfile.mkstemp(dir=dest, prefix=".fleet-report-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                    out.write(text)
                os.chmod(temporary, FILE_MODE)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
    except OSError as exc:
        raise AnsibleActionFail(f"Cannot write the fleet report to {dest}: {exc}") from None
