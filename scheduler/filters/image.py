"""Image: a request naming an image goes only to hosts whose agent has it.

Agents report the images they have (``HostTopology.images``); a host that
reports none (an older agent, a fleet file without the field) may have any.
"""

from scheduler.filters.base import IMAGE_MISSING, BaseFilter


class ImageFilter(BaseFilter):
    name = 'image'
    cost = 0
    static = True

    def applies(self, spec):
        return spec.image is not None

    def static_key(self, spec):
        return (spec.image,)

    def host_passes(self, host_state, spec):
        images = host_state.topology.images
        if images is not None and spec.image not in images:
            return self.reject(host_state, IMAGE_MISSING, f"image {spec.image} is not on the host")
        return None
