"""Run every benchmark: seed fresh databases, serve each with the production server, measure, report.

    .venv/bin/python bench/run.py                     # 100 and 1,000 patients (several minutes)
    .venv/bin/python bench/run.py --quick             # smoke run: 20 patients, short loops
    .venv/bin/python bench/run.py --patients 100,1000 --clients 4 --rounds 3

Figures are ratios against a baseline (``/healthz``) measured in the same run, because the machines are
noisy. Targets are printed PASS/FAIL for information; the exit status is 0 unless something broke
(a non-200 answer, a server that does not start). The figures also go to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(ROOT))

from bench import load, report, sample, seeding, tokens  # noqa: E402
from bench.server import BenchError, SandboxServer  # noqa: E402

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
ENTRY_CHECKS = 20

FULL = {"patients": "100,1000", "rounds": 5, "duration": 2.0, "warmup": 0.5, "latency_requests": 500,
        "latency_warmup": 50}
QUICK = {"patients": "20", "rounds": 1, "duration": 1.0, "warmup": 0.3, "latency_requests": 50,
         "latency_warmup": 10}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Smoke run: 20 patients, 1 short round, few requests.")
    parser.add_argument("--patients", help=f"Comma-separated database sizes (default {FULL['patients']}).")
    parser.add_argument("--clients", type=int, default=4, help="Load client processes (default 4).")
    parser.add_argument("--workers", type=int, default=2, help="Server worker processes (default 2).")
    parser.add_argument("--reconnect-every", type=int, default=100, metavar="N",
                        help="Each load client reconnects after N requests, so its connection lands on whichever "
                             "worker is free and one worker never holds every connection (0: never; default 100).")
    parser.add_argument("--rounds", type=int, help="Throughput rounds, median reported (default 5).")
    parser.add_argument("--duration", type=float, help="Seconds measured per throughput round (default 2).")
    parser.add_argument("--warmup", type=float, help="Warm-up seconds before each round (default 0.5).")
    parser.add_argument("--latency-requests", type=int, help="Timed requests per latency query (default 500).")
    parser.add_argument("--seed", type=int, default=42, help="Seed of the synthetic data (default 42).")
    parser.add_argument("--anchor-date", default="2026-06-01", help="Fixed 'today' of the data (default 2026-06-01).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Where to write the JSON results.")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.patients = args.patients or preset["patients"]
    args.rounds = args.rounds or preset["rounds"]
    args.duration = args.duration or preset["duration"]
    args.warmup = preset["warmup"] if args.warmup is None else args.warmup
    args.latency_requests = args.latency_requests or preset["latency_requests"]
    args.latency_warmup = preset["latency_warmup"]
    try:
        args.sizes = sorted({int(n) for n in args.patients.split(",") if n.strip()})
        args.anchor = dt.date.fromisoformat(args.anchor_date)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.sizes or min(args.sizes) < 1 or args.clients < 1 or args.rounds < 1 or args.reconnect_every < 0:
        parser.error("--patients, --clients and --rounds must be positive, --reconnect-every not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = {"meta": _meta(args), "sizes": {}, "targets": []}
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        for n in args.sizes:
            results["sizes"][str(n)] = bench_size(n, Path(tmp), args)
    results["meta"]["finished_at"] = _now()
    results["meta"]["load_average_at_end"] = _load_average()
    results["targets"] = report.evaluate({int(n): s for n, s in results["sizes"].items()})
    report.print_report(results)
    report.write_json(results, args.output)
    print(f"Results written to {_shown(args.output)}")
    return 0


def bench_size(n: int, tmp: Path, args: argparse.Namespace) -> dict:
    """Seed a fresh database of ``n`` patients, serve it, and take every measurement on it."""
    db = tmp / f"bench-{n}.sqlite"
    _say(f"[{n} patients] seeding …")
    seed = seeding.seed_fresh(db, n, args.seed, args.anchor)
    _say(f"[{n} patients] {seed.resources:,} resources in {seed.seconds:.1f} s ({seed.resources_per_s:,.0f}/s)")
    with SandboxServer(db, tmp / f"server-{n}.log", args.workers, args.anchor_date) as server:
        _say(f"[{n} patients] server on {server.base_url}; collecting ids through search …")
        client = load.Client(server.address)
        try:
            found = sample.collect(client, max_patients=1000, observation_patients=200, rng=random.Random(args.seed))
        finally:
            client.close()
        _say(f"[{n} patients] {found.counts}; throughput …")
        throughput = measure_throughput(server, found, args)
        _say(f"[{n} patients] token issuance …")
        issuance = measure_tokens(server, db, found, args)
        _say(f"[{n} patients] latency …")
        latency = measure_latency(server.address, found, args)
    return {"seeding": seed.as_dict(), "sample": found.counts, "throughput": throughput, "tokens": issuance,
            "latency": latency}


def measure_throughput(server: SandboxServer, found: sample.Sample, args: argparse.Namespace) -> dict:
    """Baseline and reads in turn, each round (see ``summarise``)."""
    paths = {
        "healthz": ["/healthz"],
        "patient_read": [f"/fhir/Patient/{quote(i)}" for i in found.patient_ids],
        "observation_read": [f"/fhir/Observation/{quote(i)}" for i in found.observation_ids],
    }
    rounds = []
    for _ in range(args.rounds):
        rounds.append({key: load.throughput(server.address, p, args.clients, args.warmup, args.duration,
                                            server.cpu_seconds, args.reconnect_every).as_dict()
                       for key, p in paths.items()})
    return summarise(rounds, list(paths))


def measure_tokens(server: SandboxServer, db: Path, found: sample.Sample, args: argparse.Namespace) -> dict:
    """Token issuance throughput — code exchange with id_token, refresh (rotating), client_credentials
    (RS384 assertion) — against /healthz in the same rounds. Each round gets fresh single-use credentials."""
    setup = tokens.prepare(db, server.base_url, found.patient_ids[0])
    budget = tokens.round_budget(args.warmup + args.duration, args.clients)
    rounds = []
    for _ in range(args.rounds):
        codes = tokens.issue_codes(setup, budget * args.clients)
        refresh_tokens = tokens.issue_refresh_tokens(setup, args.clients)
        workloads = {
            "healthz": None,
            "code_exchange": functools.partial(tokens.CodeExchange, setup, codes),
            "refresh": functools.partial(tokens.Refresh, setup, refresh_tokens),
            "client_credentials": functools.partial(tokens.ClientCredentials, setup, budget),
        }
        rounds.append({key: load.throughput(server.address, ["/healthz"], args.clients, args.warmup, args.duration,
                                            server.cpu_seconds, args.reconnect_every, workload).as_dict()
                       for key, workload in workloads.items()})
    return summarise(rounds, list(workloads))


def summarise(rounds: list[dict], keys: list[str]) -> dict:
    """Medians over rounds; each endpoint's ratio to /healthz is taken per round, then the median of rounds.

    ``cpu_ratio`` compares the server's own CPU cost per request (baseline ÷ endpoint), which the load
    generator's share of the two cores does not blur.
    """
    others = [key for key in keys if key != "healthz"]
    median = {key: statistics.median(r[key]["requests_per_s"] for r in rounds) for key in keys}
    ratio = {key: statistics.median(r[key]["requests_per_s"] / r["healthz"]["requests_per_s"] for r in rounds)
             for key in others}
    result = {"median": median, "ratio": ratio, "rounds": rounds}
    if all(r[key]["server_cpu_us_per_request"] for r in rounds for key in keys):
        result["server_cpu_us_per_request"] = {
            key: statistics.median(r[key]["server_cpu_us_per_request"] for r in rounds) for key in keys}
        result["cpu_ratio"] = {key: statistics.median(
            r["healthz"]["server_cpu_us_per_request"] / r[key]["server_cpu_us_per_request"] for r in rounds)
            for key in others}
    return result


def measure_latency(address: tuple[str, int], found: sample.Sample, args: argparse.Namespace) -> dict:
    patients = [quote(p) for p in found.patient_ids]
    families = [quote(f) for f in found.family_names] or ["smith"]
    queries = {
        "healthz": ["/healthz"],
        "observation_labs": [f"/fhir/Observation?patient={p}&category=laboratory&_sort=-date&_count=50"
                             for p in patients],
        "patient_name": [f"/fhir/Patient?name={f}" for f in families],
        "encounter_by_patient": [f"/fhir/Encounter?patient={p}&_sort=-date" for p in patients],
        "condition_active": [f"/fhir/Condition?patient={p}&clinical-status=active" for p in patients],
    }
    results = {}
    for key, paths in queries.items():
        results[key] = load.latency(address, paths, args.latency_requests, args.latency_warmup).as_dict()
        if key != "healthz":
            results[key]["mean_entries"] = mean_entries(address, paths[:ENTRY_CHECKS])
    return results


def mean_entries(address: tuple[str, int], paths: list[str]) -> float:
    """Entries per searchset page over a few of the paths (untimed): shows the searches find something."""
    client = load.Client(address)
    try:
        return statistics.mean(len(sample.get_json(client, p).get("entry", [])) for p in paths)
    finally:
        client.close()


def _meta(args: argparse.Namespace) -> dict:
    return {
        "started_at": _now(),
        "load_average_at_start": _load_average(),  # other work on the machine makes every figure noisier
        "commit": _commit(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "options": {"patients": args.sizes, "quick": args.quick, "clients": args.clients, "workers": args.workers,
                    "reconnect_every": args.reconnect_every,
                    "rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup,
                    "latency_requests": args.latency_requests, "latency_warmup": args.latency_warmup,
                    "seed": args.seed, "anchor_date": args.anchor_date},
    }


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_T0 = time.monotonic()


def _say(message: str) -> None:
    print(f"{time.monotonic() - _T0:7.1f}s  {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
