"""The modules of the in-sandbox programs (agent.py: ephemeral and cached executions;
family.py: stateful contexts). Installed read-only, root-owned, in /opt/faas/faas_agent.

Shared by both: common (protocol, framing, environment, logging, running code as __main__).
Executions: exec_agent (the agent's loop and host channel), spares (the zygote and its spares),
launch (starting an execution), streams (its stdin, output, progress and status pipes),
finish (its end and result), terminals (pseudo-terminals).
Contexts: family_agent (the family agent's loop), snapshot_ops (snapshots, branches, loads,
merges), peers (the agent's view of a context or holder), contexts (the context server),
interpreters (the python, node and per-run interpreters of a context), holders (snapshot
holders), namespaces (making, entering and joining namespaces), confine (capabilities and the
seccomp filter), messages (agent <-> context messages), filetree (tars, manifests, merges).
Contexts under the gVisor tier: gvisor (why they differ there; the interpreter's capabilities,
CPU time through held fds) and gvisor_contexts (a context's own root, python snapshots forked
by the interpreter), called from the lines marked `gvisor hook` in the modules above.
"""
