"""Secure boot: ``os:secure_boot=required`` needs a host with secure-boot firmware.

``optional`` and ``disabled`` accept any host (Nova's meaning: optional uses
secure boot where the host offers it).
"""

from scheduler.filters.base import SECURE_BOOT_UNSUPPORTED, BaseFilter
from wire.request_spec import SECURE_BOOT_REQUIRED


class SecureBootFilter(BaseFilter):
    name = 'secure_boot'
    cost = 0
    static = True

    def applies(self, spec):
        return spec.secure_boot == SECURE_BOOT_REQUIRED

    def static_key(self, spec):
        return (spec.secure_boot,)

    def host_passes(self, host_state, spec):
        if spec.secure_boot == SECURE_BOOT_REQUIRED and not host_state.topology.secure_boot:
            return self.reject(host_state, SECURE_BOOT_UNSUPPORTED,
                               'os:secure_boot=required but the host has no secure-boot firmware')
        return None
