"""Benchmark: the demo submission load through nginx in front of two web hosts, against
one host (issue 15, point 5).

The deployment is the README's (``tests/deployment.py``): ``elicit serve`` hosts, each
with the shipped gunicorn settings (``--workers`` overrides them) and an instance folder
of its own, sharing one PostgreSQL database and one Redis, behind Debian's nginx running
the README's configuration.  Three ways in are measured in the same run, taking turns
slice by slice so that all see the same machine load:

- ``one host``: host A directly, as ``benchmarks/submit.py`` measures it;
- ``nginx → one host``: nginx with host A alone in its upstream (the balancer's cost);
- ``nginx → two hosts``: nginx spreading requests over hosts A and B (round robin).

Each expert of the demo study (``benchmarks/submit.py``'s load: open the personal link,
load the page, then submit every item of round 1 with some rationales) goes through one
of them: the two GETs untimed and first, then only the ``POST /e/`` is timed.
Afterwards every acknowledged submission is checked against the database; a lost one
makes the exit code 1.

What the figures mean on a small machine: both hosts run on the same cores as nginx,
PostgreSQL and the load client.  A second host there adds workers, not CPU, so the run
cannot show throughput doubling; it shows what the balancer costs and that spreading one
expert's requests over hosts loses nothing (no error, no lost submission, no session
refused).  Throughput grows with hosts that have cores of their own, until PostgreSQL's
share (about a quarter of a submission's CPU, see ``benchmarks/README.md``) is the limit.

Run: ``.venv/bin/python benchmarks/scale_out.py [--experts 1500 --concurrency 32
--duration 60]``.  Needs PostgreSQL (``--admin-url``), Redis (``--redis-url``) and
nginx, which it installs with ``apt-get install nginx`` when it is missing and the
script runs as root.  The benchmark database (``--database``) is dropped and recreated
at the start and dropped at the end; every process started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_HERE = Path(__file__).resolve().parent
# As in submit.py: ``analysis`` must be the package, not benchmarks/analysis.py.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.submit import (  # noqa: E402
    LoadResult,
    LoadSpec,
    _prepare_experts,
    _run_pool,
    _slices,
    _submitter,
    create_database,
    drop_database,
    percentile,
    prepare_study,
    shipped_setting,
    stored_submissions,
)
from tests.deployment import NGINX, host_environment, nginx, web_hosts  # noqa: E402

WAYS = ("one host", "nginx → one host", "nginx → two hosts")


@dataclass(frozen=True)
class Way:
    """One way into the site and the experts who take it."""

    name: str
    url: str
    #: Indexes into the setup's job list.
    experts: list[int]


def ensure_nginx() -> None:
    """Install Debian's nginx if it is missing (as root), else say how."""
    if NGINX.exists():
        return
    if os.geteuid() != 0:
        sys.exit("nginx is missing: apt-get install nginx (as root), then run again")
    print("installing Debian's nginx (apt-get install nginx)", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
        check=True,
        env=environment,
    )


def run_load(
    ways: list[Way], jobs: list[tuple[str, dict[str, str]]], args: argparse.Namespace
) -> dict[str, LoadResult]:
    """Entry point of the client process: each way's results."""
    return asyncio.run(_drive(ways, jobs, args))


async def _drive(
    ways: list[Way], jobs: list[tuple[str, dict[str, str]]], args: argparse.Namespace
) -> dict[str, LoadResult]:
    import aiohttp

    results = {way.name: LoadResult() for way in ways}
    specs = {
        way.name: LoadSpec(
            elicit_url=way.url,
            bare_url="",
            experts=[jobs[index] for index in way.experts],
            inserts=[],
            concurrency=args.concurrency,
            duration_s=args.duration,
            timeout_s=args.timeout,
            warmup=args.warmup,
            slices=args.slices,
        )
        for way in ways
    }
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    sessions = {
        way.name: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=args.concurrency),
            timeout=timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        for way in ways
    }
    try:
        senders, queues = {}, {}
        for way in ways:
            spec, result = specs[way.name], results[way.name]
            started = time.perf_counter()
            prepared = await _prepare_experts(sessions[way.name], spec, result)
            result.prepare_s = time.perf_counter() - started
            senders[way.name] = _submitter(sessions[way.name], spec, prepared)
            queues[way.name] = [index for index in range(len(spec.experts)) if index in prepared]
        for way in ways:  # untimed: first connections, code paths
            spec = specs[way.name]
            warm = queues[way.name][: args.warmup]
            await _run_pool(warm, senders[way.name], spec, results[way.name], args.duration, None)
        cap = args.duration / (len(ways) * args.slices)
        parts = {way.name: _slices(queues[way.name][args.warmup :], args.slices) for way in ways}
        for turn in range(args.slices):
            for way in ways:
                await _run_pool(
                    parts[way.name][turn],
                    senders[way.name],
                    specs[way.name],
                    results[way.name],
                    cap,
                    (),
                )
    finally:
        for session in sessions.values():
            await session.close()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=1500, help="simulated experts per way")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--duration", type=float, default=60.0, help="cap on all measured phases, seconds"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--slices", type=int, default=4, help="turns taken by each way")
    parser.add_argument("--warmup", type=int, default=32, help="untimed requests per way")
    parser.add_argument("--workers", type=int, default=None, help="per host (gunicorn.conf.py)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default="elicit_bench_scale_out")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--seed", type=int, default=20261204)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_nginx()
    host = args.admin_url.rsplit("/", 1)[0].split("://", 1)[1]
    database_url = f"postgresql+psycopg://{host}/{args.database}"
    secret_key = os.urandom(32).hex()
    folder = Path(tempfile.mkdtemp(prefix="elicit-bench-scale-out-"))
    workers = args.workers or shipped_setting("workers")
    print(
        f"hosts: elicit serve, sync × {workers} workers each (gunicorn.conf.py"
        f"{'' if args.workers is None else ', --workers'}); {args.concurrency} connections; "
        f"{args.experts} experts per way; measured phases capped at {args.duration:.0f} s "
        f"in {args.slices} turns each; {os.cpu_count()} CPUs shared by everything",
        flush=True,
    )
    create_database(args.admin_url, args.database)
    lost: dict[str, int] = {}
    try:
        started = time.perf_counter()
        setup = prepare_study(database_url, secret_key, args.experts * len(WAYS), args.seed)
        print(f"setup: {time.perf_counter() - started:.1f} s", flush=True)
        environment = host_environment(
            database_url, args.redis_url, secret_key, "http://elicit.test", folder
        )
        with (
            web_hosts(2, environment, folder, workers=args.workers) as (host_a, host_b),
            nginx([host_a], folder / "nginx-one") as to_one,
            nginx([host_a, host_b], folder / "nginx-two") as to_two,
        ):
            urls = [f"http://{host_a}", to_one.url, to_two.url]
            ways = [
                Way(name, url, list(range(n * args.experts, (n + 1) * args.experts)))
                for n, (name, url) in enumerate(zip(WAYS, urls, strict=True))
            ]
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as client:
                results = client.submit(run_load, ways, setup.jobs, args).result()
            served = to_two.upstreams()
        from surveys.panel import hash_token

        stored = stored_submissions(database_url, setup.round_id)
        for way in ways:
            acknowledged = [setup.jobs[way.experts[i]][0] for i in results[way.name].acknowledged]
            lost[way.name] = sum(
                1
                for token in acknowledged
                if stored.get(hash_token(token), 0) != setup.expected[token]
            )
    finally:
        drop_database(args.admin_url, args.database)
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"{'way in':<20} {'submissions/s':>13} {'p50 ms':>8} {'p99 ms':>8}  measured  errors  lost"
    )
    rates: dict[str, float] = {}
    for way in ways:
        result = results[way.name]
        rates[way.name] = len(result.latencies_ms) / result.elapsed_s if result.elapsed_s else 0.0
        errors = len(result.errors) + len(result.prepare_errors)
        print(
            f"{way.name:<20} {rates[way.name]:13.1f} {percentile(result.latencies_ms, 50):8.1f} "
            f"{percentile(result.latencies_ms, 99):8.1f}  {len(result.latencies_ms):8d}  "
            f"{errors:6d}  {lost[way.name]:4d}"
        )
        for index, problem in (result.prepare_errors + result.errors)[:3]:
            print(f"  error (request {index}): {problem}")
    by_host = {address: served.count(address) for address in sorted(set(served))}
    print(f"nginx → two hosts, requests answered per host: {by_host}")
    one = rates[WAYS[0]]
    print(
        f"two hosts through nginx ÷ one host: {rates[WAYS[2]] / one:.2f}; "
        f"one host through nginx ÷ one host: {rates[WAYS[1]] / one:.2f}"
        if one
        else "no submission measured"
    )
    return 1 if any(lost.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
