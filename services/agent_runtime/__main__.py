"""Entry point: load the fleet file, register the agents, run assignments until SIGTERM."""

from services.agent_runtime.entry import main

if __name__ == "__main__":
    main()
