"""Execution latency and throughput of the local server's runtimes (figures printed, never asserted).

For a trivial Python and a trivial Node.js function: cold latency (a fresh worker each time, forced by
a new variable value), warm latency (the same worker), and executions per second with concurrent
clients. Run: `python bench/exec_bench.py [--warm N] [--cold N] [--concurrency C] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appwrite.input_file import InputFile  # noqa: E402

from tests.functions.harness import sdk, server_at  # noqa: E402
from tests.helpers import wait_until  # noqa: E402

PY = 'def main(context):\n    return context.res.text("ok")\n'
NODE = 'module.exports = async ({ res }) => res.text("ok");\n'


def deploy(functions, function_id: str, runtime: str, entrypoint: str, code: str) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(entrypoint)
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code.encode()))
    functions.create(function_id, function_id, runtime, entrypoint=entrypoint)
    functions.create_variable(function_id, "BUMP", "0")
    functions.create_deployment(function_id, InputFile.from_bytes(buffer.getvalue(), "code.tar.gz"), True)
    wait_until(lambda: functions.get(function_id)["deployment"], timeout=60, what=f"{function_id} deployment")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


async def measure(endpoint: str, key: str, function_id: str, args: argparse.Namespace, functions) -> dict[str, float]:  # type: ignore[no-untyped-def]
    headers = {"x-appwrite-project": "test", "x-appwrite-key": key}
    url = f"{endpoint}/functions/{function_id}/executions"
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        async def once() -> float:
            started = time.perf_counter()
            response = await client.post(url, json={"path": "/"})
            assert response.status_code == 201 and response.json()["status"] == "completed", response.text
            return time.perf_counter() - started

        variable = functions.list_variables(function_id)["variables"][0]["$id"]
        cold = []
        for n in range(args.cold):
            functions.update_variable(function_id, variable, "BUMP", str(n + 1))  # new env: the next call starts a new worker
            cold.append(await once())
        await once()
        warm = [await once() for _ in range(args.warm)]

        done = 0
        deadline = time.perf_counter() + args.seconds

        async def client_loop() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await once()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(args.concurrency)))
        rate = done / (time.perf_counter() - started)
    return {"cold_p50": pct(cold, 0.5), "cold_p99": pct(cold, 0.99), "warm_p50": pct(warm, 0.5), "warm_p99": pct(warm, 0.99),
            "warm_mean": statistics.mean(warm) * 1000, "rate": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, server_at(Path(tmp) / "data") as (server, _):
        functions = sdk(server)
        deploy(functions, "py", "python-3.12", "main.py", PY)
        deploy(functions, "node", "node-20.0", "index.js", NODE)
        print(f"{'function':8} {'cold p50':>9} {'cold p99':>9} {'warm p50':>9} {'warm p99':>9} {'exec/s':>8}   (ms; {args.concurrency} concurrent clients for throughput)")
        for function_id in ("py", "node"):
            r = asyncio.run(measure(server.endpoint, server.api_key, function_id, args, functions))
            print(f"{function_id:8} {r['cold_p50']:9.1f} {r['cold_p99']:9.1f} {r['warm_p50']:9.1f} {r['warm_p99']:9.1f} {r['rate']:8.0f}")


if __name__ == "__main__":
    main()
