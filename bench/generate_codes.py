"""Benchmark: generate a million promo codes for one campaign on PostgreSQL (as a named batch, then the
same batch again, which must add nothing), then export them as CSV.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oa_billing_bench .venv/bin/python bench/generate_codes.py

Goals: generating at most 10 s and 150 MB (issue 14); the rerun and the export under 30 s and 300 MB (SPEC §3:
"thousands to a million"). Each phase runs in a child process so that its peak memory (ru_maxrss of RUSAGE_SELF)
is its own, Django included. If the database does not exist it is created and dropped afterwards; otherwise the
rows made here are deleted.

The floor, measured last: the same rows (a million codes, in the same chunks, each sorted and committed on its
own) written by COPY alone, from text made before the clock starts; what PostgreSQL needs for them whatever
Python does. The generated rows are deleted and the table vacuumed first, so it starts from the table the
generation started from (its pages now warm: if anything, the floor is flattered).
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _databases import drop_database, server_connection

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oa_billing_bench"
COUNT = int(os.environ.get("BENCH_COUNT", "1000000"))


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("SECRET_KEY", "bench-only-throwaway-key")
    # DEBUG keeps every query in memory, which would spoil the memory figure.
    os.environ["DEBUG"] = "false"
    # DEBUG off needs a seller; the demo company's.
    os.environ.setdefault("SELLER_UBN", "22099131")
    os.environ.setdefault("SELLER_NAME", "示範數位服務股份有限公司")
    os.environ.setdefault("SELLER_ADDRESS", "臺北市信義區市府路1號")
    os.environ.setdefault("MESSAGING_TOKEN_KEY", "YmVuY2gtb25seS10aHJvd2F3YXktdG9rZW4ta2V5LTM=")  # DEBUG off needs one
    import django

    django.setup()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def create_database_if_missing(url: str) -> bool:
    """True when this run created the database (and so drops it at the end)."""
    connection, name = server_connection(url)
    with connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        connection.execute(f'CREATE DATABASE "{name}"')
    return True


def phase_baseline(_: int) -> dict:
    """Django and psycopg loaded, nothing done: what every phase's peak includes."""
    return {"seconds": 0.0, "peak_mb": peak_mb()}


def phase_floor(campaign_id: int) -> dict:
    """The same rows by COPY alone: chunk texts made (and codes drawn) before the clock starts."""
    from django.db import connection, transaction

    from promos.codes import random_codes
    from promos.models import CodeBatch, CodeStatus, PromoCode
    from promos.services import GENERATE_CHUNK

    batch = CodeBatch.objects.create(campaign_id=campaign_id, name="bench floor", requested=COUNT, made=COUNT)
    columns = ", ".join(PromoCode._meta.get_field(name).column for name in ("campaign", "batch", "code", "status"))
    prefix, suffix = f"{campaign_id}\t{batch.pk}\t", f"\t{CodeStatus.AVAILABLE.value}\n"
    sizes = [min(GENERATE_CHUNK, COUNT - start) for start in range(0, COUNT, GENERATE_CHUNK)]
    chunks = ["".join(prefix + code + suffix for code in sorted(random_codes(size))).encode() for size in sizes]
    started = time.perf_counter()
    for data in chunks:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.copy(f"COPY {PromoCode._meta.db_table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write(data)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": peak_mb(), "codes": PromoCode.objects.filter(batch=batch).count()}


def phase_generate(campaign_id: int) -> dict:
    from promos.models import Campaign
    from promos.services import promo_codes_generate

    campaign = Campaign.objects.get(pk=campaign_id)
    started, cpu = time.perf_counter(), time.process_time()
    # Named, as the command makes it: each chunk commits with the batch's count of codes made.
    batch = promo_codes_generate(campaign=campaign, count=COUNT, actor=None, name="bench")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "peak_mb": peak_mb(), "batch": batch.pk, "codes": batch.codes.count(), "cpu_s": cpu}


def phase_rerun(campaign_id: int) -> dict:
    """The same batch asked for again (a cron retry, a second operator): it must change nothing, quickly."""
    from promos.models import Campaign, PromoCode
    from promos.services import promo_codes_generate

    campaign = Campaign.objects.get(pk=campaign_id)
    before = PromoCode.objects.filter(campaign=campaign).count()
    started = time.perf_counter()
    batch = promo_codes_generate(campaign=campaign, count=COUNT, actor=None, name="bench")
    seconds = time.perf_counter() - started
    added = PromoCode.objects.filter(campaign=campaign).count() - before
    return {"seconds": seconds, "peak_mb": peak_mb(), "batch": batch.pk, "codes_added": added}


def phase_export(batch_id: int) -> dict:
    from promos.models import PromoCode
    from promos.services import promo_codes_write_csv

    with tempfile.NamedTemporaryFile("w", newline="", encoding="utf-8", suffix=".csv") as stream:
        started = time.perf_counter()
        rows = promo_codes_write_csv(codes=PromoCode.objects.filter(batch_id=batch_id), stream=stream)
        stream.flush()
        seconds = time.perf_counter() - started
        size_mb = os.path.getsize(stream.name) / 1024 / 1024
    return {"seconds": seconds, "peak_mb": peak_mb(), "rows": rows, "file_mb": size_mb}


def run_phase(*args: str) -> dict:
    """Run one phase in a fresh interpreter; it prints its figures as JSON on its last line."""
    output = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def create_campaign() -> int:
    from datetime import timedelta

    from django.utils import timezone

    from promos.models import Campaign

    now = timezone.now()
    campaign = Campaign.objects.create(name="bench", valid_from=now, valid_until=now + timedelta(days=365))
    return campaign.pk


def delete_rows(campaign_id: int) -> None:
    from django.db import connection

    from accounts.models import AuditRecord
    from promos.models import CodeBatch

    batches = [str(pk) for pk in CodeBatch.objects.filter(campaign_id=campaign_id).values_list("pk", flat=True)]
    AuditRecord.objects.filter(object_type="promos.codebatch", object_id__in=batches).delete()
    with connection.cursor() as cursor:
        # Raw: the ORM's delete would load a million codes to check the PROTECT relations.
        cursor.execute("DELETE FROM promos_promocode WHERE campaign_id = %s", [campaign_id])
        cursor.execute("DELETE FROM promos_codebatch WHERE campaign_id = %s", [campaign_id])
        cursor.execute("DELETE FROM promos_campaign WHERE id = %s", [campaign_id])


def vacuum_codes() -> None:
    from django.db import connection

    from promos.models import PromoCode

    with connection.cursor() as cursor:  # autocommit: VACUUM runs outside a transaction
        cursor.execute(f"VACUUM ANALYZE {PromoCode._meta.db_table}")


def print_result(name: str, result: dict, *, seconds: float | None = 30, mb: float | None = 300) -> None:
    extra = ", ".join(
        f"{key} {value:,.1f}" if isinstance(value, float) else f"{key} {value:,}"
        for key, value in result.items()
        if key not in {"seconds", "peak_mb"}
    )
    if seconds is None:
        goal = verdict = ""
    else:
        goal = f"goal ≤ {seconds} s, ≤ {mb} MB"
        verdict = "ok" if result["seconds"] <= seconds and result["peak_mb"] <= mb else "MISSES THE GOAL"
    print(f"{name:<9} {result['seconds']:6.1f} s  {result['peak_mb']:6.1f} MB peak  ({extra})  {goal}  {verdict}")


def main() -> None:
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    created = create_database_if_missing(url)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    campaign_id = create_campaign()
    try:
        baseline = run_phase("baseline", "0")["peak_mb"]
        print(f"{COUNT:,} codes on {connection.settings_dict['NAME']}; a process with Django loaded: {baseline:.1f} MB")
        generated = run_phase("generate", str(campaign_id))
        print_result("generate", generated, seconds=10, mb=150)
        print_result("rerun", run_phase("rerun", str(campaign_id)))
        print_result("export", run_phase("export", str(generated["batch"])))
        delete_rows(campaign_id)
        vacuum_codes()
        campaign_id = create_campaign()
        floor = run_phase("floor", str(campaign_id))
        print_result("floor", floor, seconds=None)
        print(
            f"generate ÷ floor: {generated['seconds']:.1f} s ÷ {floor['seconds']:.1f} s = "
            f"{generated['seconds'] / floor['seconds']:.2f}×; the generation's own CPU {generated['cpu_s']:.1f} s"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        if created:
            connection.close()
            drop_database(url)
        else:
            delete_rows(campaign_id)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        setup_django()
        phases = {
            "baseline": phase_baseline,
            "floor": phase_floor,
            "generate": phase_generate,
            "rerun": phase_rerun,
            "export": phase_export,
        }
        phase = phases[sys.argv[1]]
        print(json.dumps(phase(int(sys.argv[2]))))
    else:
        main()
