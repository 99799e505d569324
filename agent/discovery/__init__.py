"""Host discovery: what this host has, read from libvirt through the seam plus config.

``capabilities``, ``nodedev`` and ``domcaps`` parse libvirt XML into plain
values; ``topology`` combines them with the options in ``opts`` into the
wire ``HostTopology`` the agent reports.
"""
