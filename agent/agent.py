"""FaaS in-sandbox agent of ephemeral and cached executions: the main process of every
runtime sandbox (`python3 /opt/faas/agent.py --language L`). The program is in
faas_agent/exec_agent.py; `agent.py --run-python FILE SOURCE [MARKER]` runs one python
program on a terminal (launch.py)."""

import sys

from faas_agent.exec_agent import main

if __name__ == "__main__":
    main(sys.argv)
