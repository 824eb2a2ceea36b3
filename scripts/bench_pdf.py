#!/usr/bin/env python3
"""Print-ready letters benchmark (issue 13 part 3). Prints its figures; asserts nothing.

Generates a synthetic recipient file (invented names, no real data), opens a case, and
runs `vigie notify --channel letter --format pdf` on it under /usr/bin/time -v: letters
per second (wall clock), CPU-seconds per 1,000 letters (user + system: the figure that
does not depend on what else runs on the machine), peak memory, and the time 1.6 million
letters would take at that rate.

Targets on a 2-core machine: >= 1,000 letters/s (1.6 M in under 30 minutes), peak
memory under 200 MB.

    cargo build --release
    python3 scripts/bench_pdf.py [ROWS]
"""
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
VIGIE = os.path.join(TARGET, "release", "vigie")
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000

FIRST = ["Camille", "Lou", "Sacha", "Noa", "Alix", "Eden", "Maël", "Inès", "Yanis", "Léa"]
LAST = ["Martin", "Bernard", "Dubois", "Morel", "Laurent", "Simon", "Lefèvre", "Roux"]


def main():
    with tempfile.TemporaryDirectory() as d:
        people = os.path.join(d, "people.csv")
        rnd = random.Random(42)
        with open(people, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(["id", "prenom", "nom", "adresse", "code_postal", "ville"])
            for i in range(ROWS):
                w.writerow([f"J{i:07d}", rnd.choice(FIRST), rnd.choice(LAST),
                            f"{rnd.randint(1, 200)} rue des Exemples", f"{rnd.randint(10, 95)}000",
                            "Villeneuve"])
        cfg = os.path.join(d, "config.yaml")
        with open(cfg, "w") as f:
            f.write(f"organisation:\n  name: ACME Santé\nletters_dir: {d}/letters\n"
                    f"mail:\n  from: \"ACME <n@example.org>\"\n  transport: file\n  outbox_dir: {d}/outbox\n")
        base = [VIGIE, "--db", os.path.join(d, "b.db"), "--config", cfg]
        subprocess.run(base + ["case", "open", "--workflow", "fr", "--title", "Bench", "--aware-at",
                               "2026-11-20T09:00", "--id", "c1", "--set", "measures=Réinitialisés",
                               "--set", "individual_advice=Changez votre mot de passe"],
                       check=True, capture_output=True)
        t = time.time()
        p = subprocess.run(["/usr/bin/time", "-v"] + base +
                           ["notify", "c1", "--recipients", people, "--channel", "letter",
                            "--format", "pdf", "--json"], capture_output=True, text=True)
        wall = time.time() - t
        if p.returncode != 0:
            sys.exit(f"vigie failed: {p.stderr[-2000:]}")
        grab = lambda pat: float(re.search(pat, p.stderr).group(1))
        cpu = grab(r"User time \(seconds\): ([\d.]+)") + grab(r"System time \(seconds\): ([\d.]+)")
        rss = grab(r"Maximum resident set size \(kbytes\): (\d+)") / 1024
        size = sum(os.path.getsize(os.path.join(r, n))
                   for r, _, ns in os.walk(os.path.join(d, "letters")) for n in ns if n.endswith(".pdf"))
        rate = ROWS / wall
        print(f"letters to PDF: {ROWS} letters in {wall:.1f} s = {rate:,.0f} letters/s (wall clock)")
        print(f"  CPU: {cpu:.1f} s = {cpu / ROWS * 1000:.2f} CPU-seconds per 1,000 letters"
              f" (at most {2000 / (cpu / ROWS * 1000):,.0f} letters/s on 2 idle cores)")
        print(f"  peak RSS {rss:.0f} MB; {size / ROWS / 1024:.1f} KiB of PDF per letter")
        print(f"  1.6 M letters at this rate: {1_600_000 / rate / 60:.1f} min")


if __name__ == "__main__":
    main()
