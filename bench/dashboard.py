"""Dashboard analytics page benchmark: from navigation to every chart drawn, in headless
Chromium, on a workspace of a year of data (1M clicks, 100k leads, 10k sales by default,
made by ``bench/analytics.py``'s generator).

    .venv/bin/python bench/dashboard.py [--db PATH] [--clicks 1000000] [--repeat 5]

The time is ``performance.mark("codeqr:analytics-drawn")`` as the page script sets it once
the data is drawn, measured from the navigation start.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from codeqr.app import create_app
from codeqr.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from analytics import generate

CHROMIUM = os.environ.get("CODEQR_CHROMIUM", "/usr/bin/chromium")
INTERVALS = ("30d", "1y", "all")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, help="reuse (or keep) the generated database here")
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        if not path.exists():
            generate(path, args.clicks, args.clicks // 10, args.clicks // 100)
        port = _port()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp) / "data",
            database_url=f"sqlite:///{path}",
            secret_key="bench",
        )
        app = create_app(settings, default_domain=f"127.0.0.1:{port}")
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(base + "/login")
                page.fill("#email", "bench@example.com")
                page.fill("#password", "correct horse battery")
                page.click("button[type=submit]")
                page.wait_for_url("**/links")
                for interval in INTERVALS:
                    times = []
                    for _ in range(args.repeat):
                        page.goto(f"{base}/dashboard/bench/analytics?interval={interval}")
                        page.wait_for_selector("#analytics[data-state]", timeout=60_000)
                        state = page.get_attribute("#analytics", "data-state")
                        assert state == "ready", page.inner_text("#analytics-error")
                        drawn = page.evaluate(
                            "performance.getEntriesByName('codeqr:analytics-drawn')[0].startTime"
                        )
                        times.append(float(drawn))
                    print(
                        f"analytics {interval:>4}: median {statistics.median(times):7.0f} ms"
                        f"  (min {min(times):.0f}, max {max(times):.0f}; load → charts drawn)"
                    )
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=20)


if __name__ == "__main__":
    main()
