"""The pure fitting core: request + host + usage -> Assignment or Rejection."""
