# Copyright: monstack maintainers
# Apache License 2.0
"""Action plugin for monstack.stack.apply: runs the monstack binary built for the
target's system and architecture as a binary module.

Ansible has no per-architecture module selection, so the collection ships one monstack
binary per platform (bin/monstack_<system>_<arch>, outside plugins/ so that ansible-doc
does not take them for undocumented modules) and this plugin runs the one matching the
target as a binary module (its facts when gathered, else ``uname -s -m`` on the target,
which needs no Python there). A target nothing was built for fails the task naming its
system and architecture.
"""

from __future__ import annotations

import os
import re

from ansible.plugins.action import ActionBase

BIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bin")
BINARY = re.compile(r"^monstack_([a-z0-9]+)_([A-Za-z0-9_]+)$")
# uname/facts spellings of the same architecture.
ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def shipped():
    """(system, arch) pairs the collection carries a binary for."""
    out = []
    if not os.path.isdir(BIN_DIR):
        return out
    for name in sorted(os.listdir(BIN_DIR)):
        m = BINARY.match(name)
        if m and os.path.isfile(os.path.join(BIN_DIR, name)):
            out.append((m.group(1), m.group(2)))
    return out


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def _target_platform(self, task_vars):
        facts = task_vars.get("ansible_facts") or {}
        system, arch = facts.get("system"), facts.get("architecture")
        if not (system and arch):
            res = self._low_level_execute_command("uname -s -m")
            if res.get("rc") != 0:
                return None, None, "cannot run `uname -s -m` on the target: %s" % (
                    (res.get("stderr") or res.get("stdout") or "").strip())
            parts = res.get("stdout", "").split()
            if len(parts) != 2:
                return None, None, "unexpected `uname -s -m` output on the target: %r" % res.get("stdout")
            system, arch = parts
        return system.lower(), ALIASES.get(arch, arch), None

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        system, arch, err = self._target_platform(task_vars)
        if err:
            result.update(failed=True, msg=err)
            return result
        if (system, arch) not in shipped():
            have = ", ".join("%s/%s" % p for p in shipped()) or "none"
            result.update(
                failed=True,
                msg=(
                    "monstack.stack.apply: this collection has no monstack binary for the "
                    "target's platform %s/%s (it carries: %s); build the collection with a "
                    "binary for %s (make ansible on or for that architecture)" % (system, arch, have, arch)
                ),
            )
            return result
        # The binaries are modules found by their plain name in the collection's bin/.
        self._shared_loader_obj.module_loader.add_directory(BIN_DIR)
        module = "ansible.legacy.monstack_%s_%s" % (system, arch)
        result.update(self._execute_module(module_name=module, module_args=self._task.args,
                                           task_vars=task_vars, wrap_async=self._task.async_val))
        return result
