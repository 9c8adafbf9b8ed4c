#!/usr/bin/python3
"""Reference for bench/ingest_bench: pandas read_csv on the same generated transactions file.

Run ingest_bench with --keep first (it leaves /tmp/lookbook_ingest_bench/transactions.csv),
then: /usr/bin/python3 bench/ingest_reference.py [FILE]
Reads the file the way a pandas user would (ids as strings, dates parsed) and prints rows/s.
"""
import os
import resource
import sys
import time

import pandas as pd

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/lookbook_ingest_bench/transactions.csv"
start = time.perf_counter()
cpu_start = time.process_time()
frame = pd.read_csv(path, dtype={"customer_id": str, "article_id": str}, parse_dates=["t_dat"])
seconds = time.perf_counter() - start
cpu = time.process_time() - cpu_start
rows = len(frame)
mb = os.path.getsize(path) / 1e6
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
print(f"pandas {pd.__version__} read_csv: {rows} rows in {seconds:.2f}s wall = "
      f"{rows / seconds / 1e6:.2f} M rows/s, {mb / seconds:.0f} MB/s; {cpu:.2f}s CPU = "
      f"{rows / cpu / 1e6:.2f} M rows/s per core; peak RSS {peak:.0f} MB")
