"""The agent swarm: agents that call the engine, a bus between them, and the orchestrator that runs them."""
