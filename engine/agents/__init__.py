"""Learning agents. `dqn` holds the DQN config and agent; `network` the Q-network; `replay` the
preallocated ring buffer. Torch is imported by those modules, not here, so that importing the
package (e.g. for `DQNConfig` in a form) stays cheap until an agent is built."""
