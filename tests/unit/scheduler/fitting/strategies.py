"""Hypothesis strategies: random hosts and request streams for the fitting invariants."""

from hypothesis import strategies as st

from wire.request_spec import GuestCell, PciRequest, PortRequest, RequestSpec
from wire.sev import SEV, SEV_ES, SEV_SNP

from .builders import host

M2, G1 = 2048, 1048576
PHYSNETS = ('physnet1', 'physnet2')
PAGE_SIZES = (None, None, None, 'small', 'large', 'any', M2, G1, 4)
PCI_POLICIES = ('required', 'legacy', 'preferred', 'socket')


@st.composite
def hosts(draw):
    cells = draw(st.integers(1, 3))
    builder = host('h').cells(cells, cores=draw(st.integers(1, 8)),
                              threads=draw(st.integers(1, 2)),
                              shared_cores=draw(st.sampled_from((0, 1, 2, 2, 3, 3))),
                              memory_mb=draw(st.sampled_from((4096, 8192, 16384))))
    for cell in range(cells):
        pools = {}
        if draw(st.booleans()):
            pools[M2] = draw(st.sampled_from((0, 100, 512, 1024)))     # up to 2 GiB
        if draw(st.booleans()):
            pools[G1] = draw(st.integers(0, 2))
        builder.pages(pools, cell=cell)
    if draw(st.booleans()):      # sockets reported (policy socket), else unknown
        builder.sockets(*(draw(st.integers(0, 1)) for _ in range(cells)))
    for index in range(draw(st.integers(0, 3))):
        builder.pf(f"0000:{index + 1:02x}:00.0", draw(_numa_node(cells)),
                   draw(st.sampled_from(PHYSNETS)), vfs=draw(st.integers(0, 4)))
    for index in range(draw(st.integers(0, 3))):
        builder.device(f"0000:{index + 0x40:02x}:00.0", numa_node=draw(_numa_node(cells)))
    return builder.sev(draw(st.integers(0, 2)), draw(st.integers(0, 2)),
                       draw(st.booleans())).build()


def _numa_node(cells):
    return st.one_of(st.none(), st.integers(0, cells - 1))


@st.composite
def requests(draw):
    nodes = draw(st.integers(0, 2))
    vcpus = draw(st.integers(max(1, nodes), 4))
    per_cell_mb = draw(st.sampled_from((256, 512, 512, 1024, 1024, 1025, 2048)))
    memory_mb = per_cell_mb * max(1, nodes)
    cpu_policy = draw(st.sampled_from(('shared', 'dedicated', 'mixed')))
    dedicated = frozenset()
    if cpu_policy == 'dedicated':
        dedicated = frozenset(range(vcpus))
    elif cpu_policy == 'mixed':
        if vcpus < 2:
            cpu_policy = 'shared'
        else:
            dedicated = frozenset(range(vcpus // 2, vcpus))
    pinned = bool(dedicated)
    return RequestSpec(
        name='r', vcpus=vcpus, memory_mb=memory_mb, cpu_policy=cpu_policy,
        dedicated_vcpus=dedicated,
        thread_policy=draw(st.sampled_from((None, 'prefer', 'require', 'isolate', 'isolate')))
        if pinned else None,
        emulator_threads_policy=draw(st.sampled_from(('share', 'isolate')))
        if pinned else 'share',
        numa_cells=_split(vcpus, per_cell_mb, nodes),
        page_size=draw(st.sampled_from(PAGE_SIZES)),
        pci_requests=draw(_pci_requests()),
        ports=tuple(PortRequest(draw(st.sampled_from(('direct', 'normal'))),
                                draw(st.sampled_from(PHYSNETS)))
                    for _ in range(draw(st.sampled_from((0, 0, 1, 2))))),
        pci_numa_affinity_policy=draw(st.sampled_from(PCI_POLICIES)),
        **_encryption(draw(st.integers(0, 9)),
                      draw(st.sampled_from((None, SEV, SEV_ES, SEV_SNP)))),
    )


def _encryption(draw_value, model):
    """One request in ten is encrypted, with no model named, amd-sev, -es or -snp."""
    encrypted = draw_value == 0
    return {'mem_encryption': encrypted, 'mem_encryption_model': model if encrypted else None}


@st.composite
def _pci_requests(draw):
    """GPUs (type-PCI) and whole NICs (type-PF, or any type of the PF's ids)."""
    chosen = []
    gpus = draw(st.sampled_from((0, 0, 0, 1, 1, 2)))
    if gpus:
        chosen.append(PciRequest('gpu', gpus, '10de', '1db4', None,
                                 draw(st.sampled_from(PCI_POLICIES))))
    if draw(st.integers(0, 4)) == 0:
        chosen.append(PciRequest('nic', 1, '8086', '1572',
                                 draw(st.sampled_from(('type-PF', None))),
                                 draw(st.sampled_from(PCI_POLICIES))))
    return tuple(chosen)


def _split(vcpus, per_cell_mb, nodes):
    if not nodes:
        return ()
    ids = list(range(vcpus))
    size = vcpus // nodes
    cells = []
    for index in range(nodes):
        end = vcpus if index == nodes - 1 else (index + 1) * size
        cells.append(GuestCell(index, tuple(ids[index * size:end]), per_cell_mb))
    return tuple(cells)
