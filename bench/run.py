"""Run every benchmark: seed fresh databases, serve each with the production server, measure, report.

    .venv/bin/python bench/run.py                     # 100 and 1,000 patients (several minutes)
    .venv/bin/python bench/run.py --quick             # smoke run: 20 patients, short loops
    .venv/bin/python bench/run.py --patients 100,1000 --clients 4 --rounds 3
    .venv/bin/python bench/run.py --only tokens       # the token path and the database growth (two minutes)

Figures are ratios against a baseline (``/healthz``) measured in the same run, because the machines are
noisy. The server runs with OPEN_READ, so the cost of access checks can be shown as well: the same FHIR
reads and lab search without a token (the open path) and under tokens minted in the bench database
(bench/access.py); every other FHIR request presents a ``system/*.rs`` token. The EHR's and the portal's pages are timed
signed in as a clinician and as a patient (bench/pages.py). On the smallest database, the token path is measured
phase by phase at 1 and 8 clients with the server's CPU per request (bench/token_phases.py), and the database's
growth per FHIR request (bench/growth.py). Targets are printed PASS/FAIL
for information; the exit status is 0 unless something broke (a non-200 answer, a server that does not
start). A system Bulk Data export is timed against paging through the same data (bench/export.py). The figures
also go to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
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

from bench import access, export, growth, load, pages, report, sample, seeding, token_phases, tokens  # noqa: E402
from bench.server import BenchError, SandboxServer  # noqa: E402

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
ENTRY_CHECKS = 20
PAGE_SHARE = 10  # pages take ~10× a FHIR search: a tenth as many requests each keeps the run short

# Full run: 7 throughput endpoints × 5 rounds per size, and 6 token path phases × 2 concurrencies × 3 rounds on the
# smallest size; about 6 minutes on 2 quiet cores, of which seeding 1,000 patients takes one.
FULL = {"patients": "100,1000", "rounds": 5, "token_rounds": 3, "duration": 1.2, "token_duration": 2.0,
        "warmup": 0.3, "latency_requests": 500, "latency_warmup": 50, "growth_requests": 5000}
QUICK = {"patients": "20", "rounds": 1, "token_rounds": 1, "duration": 0.6, "token_duration": 1.0, "warmup": 0.2,
         "latency_requests": 50, "latency_warmup": 10, "growth_requests": 500}


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
    parser.add_argument("--rounds", type=int,
                        help=f"Throughput rounds, median reported (default {FULL['rounds']}).")
    parser.add_argument("--token-rounds", type=int,
                        help=f"Token path rounds, median reported (default {FULL['token_rounds']}).")
    parser.add_argument("--only", choices=("all", "tokens"), default="all",
                        help="tokens: only the token path's phases (on the smallest database); default all.")
    parser.add_argument("--token-duration", type=float,
                        help=f"Seconds measured per token phase (default {FULL['token_duration']:g}).")
    parser.add_argument("--duration", type=float,
                        help=f"Seconds measured per throughput round (default {FULL['duration']:g}).")
    parser.add_argument("--warmup", type=float,
                        help=f"Warm-up seconds before each round (default {FULL['warmup']:g}).")
    parser.add_argument("--latency-requests", type=int,
                        help=f"Timed requests per latency query (default {FULL['latency_requests']}).")
    parser.add_argument("--seed", type=int, default=42, help="Seed of the synthetic data (default 42).")
    parser.add_argument("--anchor-date", default="2026-06-01", help="Fixed 'today' of the data (default 2026-06-01).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Where to write the JSON results.")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.patients = args.patients or preset["patients"]
    for name in ("rounds", "token_rounds", "duration", "token_duration", "warmup", "latency_requests"):
        if getattr(args, name) is None:  # 0 is refused below rather than silently replaced
            setattr(args, name, preset[name])
    args.latency_warmup = preset["latency_warmup"]
    args.growth_requests = preset["growth_requests"]
    try:
        args.sizes = sorted({int(n) for n in args.patients.split(",") if n.strip()})
        args.anchor = dt.date.fromisoformat(args.anchor_date)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.sizes or min(args.sizes) < 1 or args.clients < 1 or args.rounds < 1 or args.token_rounds < 1 \
            or args.duration <= 0 or args.token_duration <= 0 \
            or args.latency_requests < 1 or args.reconnect_every < 0 or args.warmup < 0:
        parser.error("--patients, --clients, --rounds, --token-rounds, --duration and --latency-requests must be "
                     "positive, --reconnect-every and --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = {"meta": _meta(args), "sizes": {}, "targets": []}
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        for n in args.sizes:
            results["sizes"][str(n)] = bench_size(n, Path(tmp), args, token_path=n == args.sizes[0])
    results["meta"]["finished_at"] = _now()
    results["meta"]["load_average_at_end"] = _load_average()
    results["targets"] = report.evaluate({int(n): s for n, s in results["sizes"].items()})
    report.print_report(results)
    report.write_json(results, args.output)
    print(f"Results written to {_shown(args.output)}")
    return 0


def bench_size(n: int, tmp: Path, args: argparse.Namespace, token_path: bool) -> dict:
    """Seed a fresh database of ``n`` patients, serve it, and take every measurement on it (the token path's
    phases when ``token_path``: they read no clinical data, so one database size tells all)."""
    db = tmp / f"bench-{n}.sqlite"
    _say(f"[{n} patients] seeding …")
    seed = seeding.seed_fresh(db, n, args.seed, args.anchor)
    _say(f"[{n} patients] {seed.resources:,} resources in {seed.seconds:.1f} s ({seed.resources_per_s:,.0f}/s)")
    # OPEN_READ: FHIR reads without a token take the open path, the reference of the access-check ratios.
    with SandboxServer(db, tmp / f"server-{n}.log", args.workers, args.anchor_date, open_read=True) as server:
        setup = tokens.prepare(db, server.base_url)
        system_token = access.mint_system(db, setup)
        if args.only == "tokens":
            setup = dataclasses.replace(setup, patient_id=seeding.first_patient(db))
            _say(f"[{n} patients] server on {server.base_url}; token path …")
            return {"seeding": seed.as_dict(), "token_path": token_phases.measure(
                server, setup, args.token_rounds, args.warmup, args.token_duration),
                "growth": measure_growth(server, db, system_token, [setup.patient_id], args)}
        _say(f"[{n} patients] server on {server.base_url}; collecting ids through search (system/*.rs token) …")
        client = load.Client(server.address, load.bearer(system_token))
        try:
            found = sample.collect(client, max_patients=1000, observation_patients=200, rng=random.Random(args.seed))
        finally:
            client.close()
        setup = dataclasses.replace(setup, patient_id=found.patient_ids[0])
        minted = time.perf_counter()
        keys = access.AccessTokens(
            system_token,
            access.mint_patient_tokens(db, setup, found.patient_ids, access.PATIENT_SCOPE),
            access.mint_patient_tokens(db, setup, found.patient_ids, access.LAB_SCOPE))
        _say(f"[{n} patients] {found.counts}; {len(keys.patient) + len(keys.granular)} patient tokens minted in "
             f"{time.perf_counter() - minted:.1f} s; throughput …")
        throughput = measure_throughput(server, found, keys, args)
        token_path_result = growth_result = None
        if token_path:
            _say(f"[{n} patients] token path …")
            token_path_result = token_phases.measure(server, setup, args.token_rounds, args.warmup,
                                                     args.token_duration)
            growth_result = measure_growth(server, db, system_token, found.patient_ids, args)
        _say(f"[{n} patients] latency …")
        latency = measure_latency(server.address, found, keys, args)
        _say(f"[{n} patients] pages …")
        page_latency = pages.measure(server.address, found, max(10, args.latency_requests // PAGE_SHARE),
                                     max(2, args.latency_warmup // PAGE_SHARE))
        _say(f"[{n} patients] bulk export against paging …")
        bulk = export.measure(server.address, db, system_token, server.worker_pids())
        _say(f"[{n} patients] {bulk['resources']:,} resources: export {bulk['export_seconds']:.1f} s, paging "
             f"{bulk['paging_seconds']:.1f} s")
    result = {"seeding": seed.as_dict(), "sample": found.counts, "throughput": throughput, "latency": latency,
              "pages": page_latency, "export": bulk}
    if token_path_result:
        result["token_path"], result["growth"] = token_path_result, growth_result
    return result


def measure_growth(server: SandboxServer, db: Path, token: str, patient_ids: list[str],
                   args: argparse.Namespace) -> dict:
    """The database's growth per FHIR request under a token: reads and a search of each patient in turn."""
    _say(f"database growth over {args.growth_requests:,} FHIR requests …")
    paths = [path for p in patient_ids[:50] for path in (f"/fhir/Patient/{quote(p)}",
                                                         f"/fhir/Condition?patient={quote(p)}")]
    return growth.measure(server.address, db, token, paths, args.growth_requests)


def measure_throughput(server: SandboxServer, found: sample.Sample, keys: access.AccessTokens,
                       args: argparse.Namespace) -> dict:
    """Baseline and each read under each kind of access (open path, system/*.rs, patient/*.rs) in turn, each
    round (see ``summarise``); ``access_ratio`` is each read's throughput ÷ the open path's, per round."""
    paths: dict[str, list] = {"healthz": ["/healthz"]}  # no token: the floor of any request, the same for all
    for read, variants in access.reads(found, keys).items():
        paths.update({f"{read}_{variant}": requests for variant, requests in variants.items()})
    rounds = []
    for _ in range(args.rounds):
        rounds.append({key: load.throughput(server.address, p, args.clients, args.warmup, args.duration,
                                            server.cpu_seconds, args.reconnect_every).as_dict()
                       for key, p in paths.items()})
    result = summarise(rounds, list(paths))
    result["access_ratio"], result["access_cpu_ratio"] = {}, {}
    for key in paths:
        read, _, variant = key.rpartition("_")
        if variant not in access.VARIANTS or variant == "open":
            continue
        base = f"{read}_open"
        result["access_ratio"][key] = statistics.median(
            r[key]["requests_per_s"] / r[base]["requests_per_s"] for r in rounds)
        if all(r[k]["server_cpu_us_per_request"] for r in rounds for k in (key, base)):
            result["access_cpu_ratio"][key] = statistics.median(
                r[base]["server_cpu_us_per_request"] / r[key]["server_cpu_us_per_request"] for r in rounds)
    return result


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


def measure_latency(address: tuple[str, int], found: sample.Sample, keys: access.AccessTokens,
                    args: argparse.Namespace) -> dict:
    """/healthz and each search under the system/*.rs token, one query after the other as before (each
    request a new patient or name); then, under ``access``, the lab search under each kind of access,
    interleaved request by request on the same patients (bench/access.py)."""
    patients = [quote(p) for p in found.patient_ids]
    families = [quote(f) for f in found.family_names] or ["smith"]
    system = load.bearer(keys.system)
    searches = {
        "observation_labs": [f"/fhir/Observation?patient={p}&category=laboratory&_sort=-date&_count=50"
                             for p in patients],
        "patient_name": [f"/fhir/Patient?name={f}" for f in families],
        "encounter_by_patient": [f"/fhir/Encounter?patient={p}&_sort=-date" for p in patients],
        "condition_active": [f"/fhir/Condition?patient={p}&clinical-status=active" for p in patients],
        "observation_labs_chained": [f"/fhir/Observation?patient.family={f}&category=laboratory&_count=50"
                                     for f in families],
        "patient_has_labs": [f"/fhir/Patient?family={f}&_has:Observation:patient:category=laboratory"
                             for f in families],
    }
    results = {"healthz": load.latency(address, ["/healthz"], args.latency_requests, args.latency_warmup).as_dict()}
    for key, paths in searches.items():
        requests = [load.Request("GET", p, headers=system) for p in paths]
        results[key] = load.latency(address, requests, args.latency_requests, args.latency_warmup).as_dict()
        results[key]["mean_entries"] = mean_entries(address, requests[:ENTRY_CHECKS])
    variants = access.lab_searches(found, keys)
    measured = load.interleaved_latency(address, variants, args.latency_requests, args.latency_warmup)
    labs = {}
    for variant, paths in variants.items():
        labs[variant] = measured[variant].as_dict()
        labs[variant]["mean_entries"] = mean_entries(address, paths[:ENTRY_CHECKS])
    base = labs["open"]["p50_ms"]
    results["access"] = {"observation_labs": labs,
                         "p50_ratio": {v: labs[v]["p50_ms"] / base for v in labs if v != "open"}}
    return results


def mean_entries(address: tuple[str, int], paths: list[load.Target]) -> float:
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
                    "reconnect_every": args.reconnect_every, "rounds": args.rounds, "token_rounds": args.token_rounds,
                    "duration_s": args.duration, "token_duration_s": args.token_duration, "only": args.only,
                    "warmup_s": args.warmup, "open_read": True,
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
