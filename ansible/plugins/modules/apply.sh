#!/bin/sh
# monstack.stack.apply runs through its action plugin (plugins/action/apply.py), which
# picks the monstack binary for the target's platform; this file only anchors the
# module's documentation (apply.yml beside it).
printf '%s\n' '{"failed": true, "msg": "monstack.stack.apply runs through its action plugin; this file only carries its docs"}'
exit 1
