"""What the MCP server costs at start-up: app.py's page launched with and without ``mcp_server``,
alternating in one process, median of the repeats (the page is built once).

    python -m benchmarks.bench_mcp_startup --repeats 3
"""
import argparse
import statistics
import time

import app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=7999)
    args = parser.parse_args()
    demo = app.build_app()
    seconds = {False: [], True: []}
    for _ in range(args.repeats):
        for mcp in (False, True):
            start = time.perf_counter()
            demo.launch(prevent_thread_lock=True, mcp_server=mcp, quiet=True, server_port=args.port)
            seconds[mcp].append(time.perf_counter() - start)
            demo.close()
            time.sleep(1)
    without, with_mcp = (statistics.median(seconds[key]) for key in (False, True))
    print(f"launch without MCP {without:.2f} s, with MCP {with_mcp:.2f} s (median of {args.repeats}); "
          f"ratio {with_mcp / without:.2f}")


if __name__ == "__main__":
    main()
