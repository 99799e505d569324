"""CPU cost of message signing: sign on the sender, verify on the receiver, per message.

Three messages an agent or the scheduler really sends, signed and verified with the
code the services use (wire/signing.py: canonical JSON + Ed25519, replay memory):

* ``instance_update``: one result (the most frequent agent message);
* ``report_host``: a 2-cell host holding ``--instances`` domains with assignments;
* ``build_instance``: a scheduler order with its assignment and spec.

Each figure is the median over ``--runs`` of process CPU time per message.

    .venv/bin/python benchmarks/bench_signing.py [--messages 2000] [--instances 16] [--runs 3]
"""

import argparse
import json
import pathlib
import statistics
import sys
import time
import uuid as uuidlib

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from benchmarks.bench_placement import machine_line  # noqa: E402
from tests import busfleet  # noqa: E402
from wire import keys, signing  # noqa: E402


def messages(instances):
    """(method, target, args) of the three kinds, of realistic size."""
    assignment = {'instance': str(uuidlib.uuid4()), 'host': 'host-0000', 'cells': [
        {'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1], 'pcpus': [2, 3],
         'memory_mb': 1024, 'page_size_kb': 2048}], 'pci_devices': [], 'emulator_pcpus': []}
    domains = [{'uuid': str(uuidlib.uuid4()), 'name': f"vm-{i}", 'state': 'running',
                'assignment': dict(assignment, instance=str(uuidlib.uuid4()))}
               for i in range(instances)]
    return {
        'instance_update': ('kvmfleet-scheduler', {
            'instance': str(uuidlib.uuid4()), 'host': 'host-0000', 'state': 'ACTIVE',
            'reason': None}),
        'report_host': ('kvmfleet-scheduler', {'host': busfleet.host('host-0000'),
                                               'instances': domains}),
        'build_instance': ('host-0000', {'instance': assignment['instance'], 'name': 'vm',
                                         'assignment': assignment,
                                         'spec': dict(busfleet.HUGE), 'request': None}),
    }


def cpu_per_message(method, target, args, count):
    """(sign µs, verify µs, payload bytes) per message, in process CPU time."""
    private_key = keys.generate()
    signer = signing.Signer(private_key)
    verifier = signing.Verifier(keys.KeySet({'host-0000': private_key.public_key()}),
                                replay_capacity=count + 1)
    started = time.process_time()
    contexts = [signer.context(method, target, args, 'host-0000') for _ in range(count)]
    signed = time.process_time()
    for ctxt in contexts:
        verifier.verify(ctxt, method, target, args, 'host-0000')
    verified = time.process_time()
    size = len(signing.canonical(args))
    return (signed - started) / count * 1e6, (verified - signed) / count * 1e6, size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--messages', type=int, default=2000)
    parser.add_argument('--instances', type=int, default=16)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    result = {'command': 'benchmarks/bench_signing.py ' + ' '.join(argv or sys.argv[1:]),
              'machine': machine_line(), 'runs': args.runs, 'messages': {}}
    for method, (target, payload) in messages(args.instances).items():
        runs = [cpu_per_message(method, target, payload, args.messages)
                for _ in range(args.runs)]
        result['messages'][method] = {
            'sign_us': round(statistics.median(r[0] for r in runs), 1),
            'verify_us': round(statistics.median(r[1] for r in runs), 1),
            'bytes': runs[0][2]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['machine']}\n{result['command']}")
    print(f"{'message':<16} {'bytes':>7} {'sign µs':>9} {'verify µs':>10}")
    for method, row in result['messages'].items():
        print(f"{method:<16} {row['bytes']:>7} {row['sign_us']:>9} {row['verify_us']:>10}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
