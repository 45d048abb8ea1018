"""FaaS stateful-context agent: the main process of a family container
(`python3 /opt/faas/family.py`), the in-sandbox side of the checkpointed, branched and
persistent modes. The program is in faas_agent/family_agent.py."""

from faas_agent.family_agent import main

if __name__ == "__main__":
    main()
