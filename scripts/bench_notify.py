#!/usr/bin/env python3
"""Bulk notification benchmark (issue 4). Prints its figures; asserts nothing.

Generates a synthetic recipient file (invented names, no real data), then reports rows/s
and peak memory of `vigie notify` for: dry-run rendering; e-mails written as .eml files;
a letter spool; SMTP to a loopback server with pooling, in clear, over STARTTLS and over
TLS from the first byte (issue 14: the same sink program, on the same cores, with a
certificate from a private CA made here with openssl and given as mail.smtp.ca_file). In
the same run, a Python baseline (Jinja2 + email.message + smtplib / files) on the same
rows, for the ratio.

Targets on a 2-core machine: 1.6 million e-mails rendered and written in at most 40 s
(>= 40,000/s), peak memory under 150 MB, SMTP hand-off >= 2,000 messages/s, >= 10x the
Python baseline.

    cargo build --release && cargo build --release --example smtp_sink
    python3 scripts/bench_notify.py [ROWS] [BASELINE_ROWS]
    VIGIE_BENCH_ONLY=smtp python3 scripts/bench_notify.py 200000 0   # the SMTP runs only
"""
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIE = os.path.join(ROOT, "target", "release", "vigie")
SINK = os.path.join(ROOT, "target", "release", "examples", "smtp_sink")
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_600_000
BASELINE_ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000

FIRST = ["Camille", "Lou", "Sacha", "Noa", "Alix", "Eden", "Maël", "Inès", "Yanis", "Léa", "Jules", "Zoé"]
LAST = ["Martin", "Bernard", "Dubois", "Morel", "Laurent", "Simon", "Michel", "Lefèvre", "Roux", "Fontaine"]


def generate(path, n):
    rnd = random.Random(42)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["id", "prenom", "nom", "email", "adresse", "code_postal", "ville", "lang"])
        for i in range(n):
            w.writerow([
                f"J{i:07d}", rnd.choice(FIRST), rnd.choice(LAST), f"jeune{i}@example.org",
                f"{rnd.randint(1, 200)} rue des Exemples", f"{rnd.randint(10, 95)}000", "Villeneuve",
                "en" if i % 20 == 0 else "",
            ])


def measure(cmd, env):
    """Runs cmd under /usr/bin/time -v: (seconds, peak RSS in MB, stdout)."""
    t = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True)
    elapsed = time.time() - t
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    if p.returncode != 0:
        print("failed:", " ".join(cmd), p.stderr[-2000:], file=sys.stderr)
    return elapsed, rss, p.stdout


def main():
    if not os.path.exists("/usr/bin/time"):
        subprocess.run(["apt-get", "install", "-y", "time"], check=False, capture_output=True)
    tmp = tempfile.mkdtemp(prefix="vigie-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        people = os.path.join(tmp, "people.csv")
        t = time.time()
        generate(people, ROWS)
        print(f"generated {ROWS} rows ({os.path.getsize(people) / 1e6:.0f} MB) in {time.time() - t:.1f} s")

        ca, cert, key = certificates(tmp)
        port = 20000 + os.getpid() % 20000
        sinks, ports = [], {}
        for i, (security, args) in enumerate([
            ("none", []), ("starttls", ["--starttls", cert, key]), ("tls", ["--tls", cert, key]),
        ]):
            ports[security] = port + i
            sink = subprocess.Popen([SINK, str(port + i)] + args, stdout=subprocess.PIPE, text=True)
            sink.stdout.readline()
            sinks.append(sink)
        cfg = os.path.join(tmp, "config.yaml")

        def config(transport, security="none"):
            ca_file = f", ca_file: {ca}" if security != "none" else ""
            with open(cfg, "w") as f:
                f.write(f"""organisation: {{ name: Mission locale d'exemple }}
dpo: {{ name: Camille Martin, email: dpo@example.org, phone: "+33 1 00 00 00 00" }}
letters_dir: {tmp}/letters
mail:
  from: vigie <vigie@example.org>
  transport: {transport}
  outbox_dir: {tmp}/outbox
  smtp: {{ host: 127.0.0.1, port: {ports[security]}, security: {security}, pool_size: 8{ca_file} }}
""")

        env = dict(os.environ, VIGIE_CONFIG=cfg, VIGIE_DB=os.path.join(tmp, "v.db"))
        config("file")
        subprocess.run([VIGIE, "case", "open", "--workflow", "fr", "--title", "Fuite de données de jeunes",
                        "--aware-at", "2026-11-20T09:00", "--id", "bench",
                        "--set", "nature=[confidentiality]", "--set", "data_categories=[identity, nir, contact]",
                        "--set", "consequences=Risque d'hameçonnage et d'usurpation d'identité",
                        "--set", "measures=Comptes piratés fermés, accès revus",
                        "--set", "individual_advice=Ne communiquez jamais votre mot de passe"],
                       env=env, check=True, capture_output=True)

        results = {}
        smtp = ["--new-campaign", "--resend-notified", "--concurrency", "64"]
        runs = [
            ("dry-run rendering", "file", "none", ["--dry-run"]),
            ("e-mails as .eml files", "file", "none", ["--new-campaign"]),
            ("letter spool", "file", "none", ["--channel", "letter"]),
            ("SMTP to loopback (pool 8)", "smtp", "none", smtp),
            ("SMTP STARTTLS (pool 8)", "smtp", "starttls", smtp),
            ("SMTP TLS (pool 8)", "smtp", "tls", smtp),
        ]
        if os.environ.get("VIGIE_BENCH_ONLY") == "smtp":
            runs = [r for r in runs if r[1] == "smtp"]
        for name, transport, security, extra in runs:
            config(transport, security)
            cmd = [VIGIE, "notify", "bench", "--recipients", people, "--json"] + extra
            secs, rss, out = measure(cmd, env)
            results[name] = (secs, rss)
            print(f"vigie {name:<28} {ROWS / secs:>9.0f} rows/s  {secs:>7.1f} s  peak {rss:>6.1f} MB")
            shutil.rmtree(os.path.join(tmp, "outbox"), ignore_errors=True)
            shutil.rmtree(os.path.join(tmp, "letters"), ignore_errors=True)

        plain = results.get("SMTP to loopback (pool 8)")
        for name in ["SMTP STARTTLS (pool 8)", "SMTP TLS (pool 8)"]:
            if plain and name in results:
                print(f"{name}: {plain[0] / results[name][0] * 100:.0f} % of the clear-text rate")

        # Python baseline on the first BASELINE_ROWS rows.
        base = baseline(people, BASELINE_ROWS, tmp, port) if BASELINE_ROWS else {}
        for name, rate in base.items():
            print(f"python {name:<27} {rate:>9.0f} rows/s  (first {BASELINE_ROWS} rows)")
        for ours, theirs in [("e-mails as .eml files", "e-mails as .eml files"), ("SMTP to loopback (pool 8)", "SMTP to loopback")]:
            if ours in results and theirs in base:
                print(f"ratio {ours}: {ROWS / results[ours][0] / base[theirs]:.1f}x the Python baseline")
        for sink in sinks:
            sink.terminate()
            sink.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def certificates(tmp):
    """A private CA and a certificate it signed for 127.0.0.1: (ca, cert, key) paths."""
    p = lambda f: os.path.join(tmp, f)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for args in [
        ["req", "-x509"] + ec + ["-days", "2", "-subj", "/CN=bench CA", "-keyout", p("ca.key"), "-out", p("ca.pem")],
        ["req"] + ec + ["-subj", "/CN=localhost", "-keyout", p("key.pem"), "-out", p("s.csr")],
        ["x509", "-req", "-days", "2", "-set_serial", "1", "-in", p("s.csr"), "-CA", p("ca.pem"),
         "-CAkey", p("ca.key"), "-extfile", p("ext.cnf"), "-out", p("cert.pem")],
    ]:
        subprocess.run(["openssl"] + args, check=True, capture_output=True)
    return p("ca.pem"), p("cert.pem"), p("key.pem")


def baseline(people, n, tmp, port):
    try:
        import jinja2  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "jinja2"], check=False)
    import jinja2
    import smtplib
    from email.message import EmailMessage

    tpl = jinja2.Environment(autoescape=False).from_string(
        """{{ greeting }}

Nous vous écrivons au sujet d'un incident de sécurité chez {{ org }}. Il touche des
informations personnelles qui vous concernent.

## Ce qui s'est passé

Type d'incident : {{ nature }}.

## Les informations vous concernant

{% for d in data %}- {{ d }}
{% endfor %}
## Ce que nous avons fait

{{ measures }}

## Ce que vous pouvez faire

{{ advice }}

Pour toute question : {{ dpo }}.
""")
    html = jinja2.Environment(autoescape=True).from_string(
        "<html><body><p>{{ greeting }}</p><p>{{ org }}</p><ul>{% for d in data %}<li>{{ d }}</li>{% endfor %}</ul>"
        "<p>{{ measures }}</p><p>{{ advice }}</p></body></html>")
    ctx = dict(org="Mission locale d'exemple", nature="Perte de confidentialité",
               data=["Identité", "NIR", "Coordonnées"], measures="Comptes piratés fermés",
               advice="Ne communiquez jamais votre mot de passe", dpo="dpo@example.org")

    def messages():
        with open(people, newline="", encoding="utf-8") as f:
            r = csv.DictReader(f, delimiter=";")
            for i, row in enumerate(r):
                if i >= n:
                    return
                c = dict(ctx, greeting=f"Bonjour {row['prenom']} {row['nom']},")
                m = EmailMessage()
                m["From"] = "vigie <vigie@example.org>"
                m["To"] = row["email"]
                m["Subject"] = "Information importante sur vos données personnelles"
                m["Message-ID"] = f"<{row['id']}@example.org>"
                m.set_content(tpl.render(**c))
                m.add_alternative(html.render(**c), subtype="html")
                yield row["id"], m

    out = {}
    d = os.path.join(tmp, "py-outbox")
    os.makedirs(d, exist_ok=True)
    t = time.time()
    for ident, m in messages():
        sub = os.path.join(d, ident[-3:])
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, ident + ".eml"), "wb") as f:
            f.write(m.as_bytes())
    out["e-mails as .eml files"] = n / (time.time() - t)
    shutil.rmtree(d, ignore_errors=True)
    t = time.time()
    with smtplib.SMTP("127.0.0.1", port) as s:
        for _, m in messages():
            s.send_message(m)
    out["SMTP to loopback"] = n / (time.time() - t)
    return out


if __name__ == "__main__":
    main()
