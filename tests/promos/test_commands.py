import csv
import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditRecord
from promos import services
from promos.codes import ALPHABET, format_code, random_codes
from promos.models import CodeBatch, CodeBatchStatus, CodeStatus, PromoCode
from tests.factories import CampaignFactory, PromoCodeFactory

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def generate(*args: str, batch: str = "spring") -> str:
    """Run generate_promo_codes with `args` and `--batch batch`; its output."""
    out = io.StringIO()
    call_command("generate_promo_codes", *args, "--batch", batch, stdout=out)
    return out.getvalue()


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_generate_makes_exactly_n_unique_codes_of_the_right_shape():
    # given
    campaign = CampaignFactory()

    # when
    output = generate("--campaign", str(campaign.pk), "--count", "250")

    # then
    codes = list(PromoCode.objects.filter(campaign=campaign).values_list("code", flat=True))
    assert len(codes) == 250
    assert len(set(codes)) == 250
    assert {len(code) for code in codes} == {20}
    assert set("".join(codes)) <= set(ALPHABET)
    assert set(PromoCode.objects.values_list("status", flat=True)) == {CodeStatus.AVAILABLE}
    batch = CodeBatch.objects.get()
    assert (batch.name, batch.requested, batch.made, batch.status) == ("spring", 250, 250, CodeBatchStatus.COMPLETE)
    assert batch.codes.count() == 250
    made = rf"Made 250 codes for campaign {re.escape(campaign.name)} in batch {batch.pk} \(“spring”\) in \d+\.\d s\.\n"
    assert re.fullmatch(made, output)
    assert AuditRecord.objects.get(action="promo_code.generate").after == {
        "campaign": campaign.pk,
        "count": 250,
        "batch": "spring",
    }


def test_generate_writes_the_batch_as_csv_in_groups_of_four(tmp_path):
    # given
    campaign = CampaignFactory(name="春季優惠")
    PromoCodeFactory(campaign=campaign)  # an older code, not part of the new batch
    path = tmp_path / "codes.csv"

    # when
    output = generate("--campaign", str(campaign.pk), "--count", "30", "--output", str(path))

    # then
    rows = read_csv(path.read_text(encoding="utf-8"))
    batch_codes = set(CodeBatch.objects.get().codes.values_list("code", flat=True))
    assert len(rows) == 30
    assert {row["code"] for row in rows} == {format_code(code) for code in batch_codes}
    assert all(len(row["code"]) == 24 and row["code"].count("-") == 4 for row in rows)
    assert {row["campaign"] for row in rows} == {"春季優惠"}
    assert {row["status"] for row in rows} == {"available"}
    assert {row["valid_until"] for row in rows} == {"2027-12-31T23:59:59+08:00"}
    assert f"Wrote 30 codes to {path}." in output


def test_generate_refuses_an_unknown_campaign_and_creates_nothing(tmp_path):
    # given
    path = tmp_path / "codes.csv"

    # when
    with pytest.raises(CommandError) as error:
        generate("--campaign", "999", "--count", "10", "--output", str(path))

    # then
    assert str(error.value) == "There is no campaign with ID 999."
    assert CodeBatch.objects.count() == 0
    assert PromoCode.objects.count() == 0
    assert not path.exists()


def test_generate_refuses_a_count_of_zero_and_creates_nothing():
    # given
    campaign = CampaignFactory()

    # when
    with pytest.raises(CommandError) as error:
        generate("--campaign", str(campaign.pk), "--count", "0")

    # then
    assert str(error.value) == "Generate at least one code."
    assert CodeBatch.objects.count() == 0
    assert PromoCode.objects.count() == 0
    assert AuditRecord.objects.count() == 0


def test_generate_draws_again_when_a_code_is_taken_and_ends_with_exactly_n(monkeypatch):
    # given
    campaign = CampaignFactory()
    taken = PromoCodeFactory(campaign=campaign)
    calls = []

    def first_draw_collides(count):
        calls.append(count)
        codes = random_codes(count)
        return [taken.code, *codes[1:]] if len(calls) == 1 else codes

    monkeypatch.setattr(services, "random_codes", first_draw_collides)

    # when
    generate("--campaign", str(campaign.pk), "--count", "40")

    # then
    assert calls == [40, 40]
    batch = CodeBatch.objects.get()
    assert batch.codes.count() == 40
    assert not batch.codes.filter(code=taken.code).exists()
    assert PromoCode.objects.filter(campaign=campaign).count() == 41


def test_generate_gives_up_when_every_draw_is_refused(monkeypatch):
    # given
    campaign = CampaignFactory()
    taken = PromoCodeFactory(campaign=campaign)
    monkeypatch.setattr(services, "random_codes", lambda count: [taken.code] * count)

    # when
    with pytest.raises(services.IntegrityError):
        generate("--campaign", str(campaign.pk), "--count", "3")

    # then the named batch is left started, with nothing made, for a rerun to finish
    batch = CodeBatch.objects.get()
    assert (batch.status, batch.made) == (CodeBatchStatus.GENERATING, 0)
    assert PromoCode.objects.count() == 1
    assert not AuditRecord.objects.filter(action="promo_code.generate").exists()


def test_generate_in_several_chunks_makes_exactly_n(monkeypatch):
    # given
    campaign = CampaignFactory()
    monkeypatch.setattr(services, "GENERATE_CHUNK", 7)

    # when
    generate("--campaign", str(campaign.pk), "--count", "30")

    # then
    assert PromoCode.objects.filter(campaign=campaign).count() == 30


# ---- a batch name makes a rerun finish the batch rather than double it ---------------------------


def crash_on_chunk(monkeypatch, chunk: int) -> None:
    """Chunks of 7 codes; the process dies while making chunk number `chunk` (the ones before are committed)."""
    monkeypatch.setattr(services, "GENERATE_CHUNK", 7)
    insert, calls = services._insert_codes, []

    def dying_insert(codes, **kwargs):
        calls.append(len(codes))
        if len(calls) == chunk:
            raise KeyboardInterrupt  # the operator's ^C, or the OOM killer: not an error the service catches
        insert(codes, **kwargs)

    monkeypatch.setattr(services, "_insert_codes", dying_insert)


def test_a_rerun_after_a_crash_makes_only_the_missing_codes(monkeypatch):
    # given a run of 30 codes killed while it made its third chunk: two chunks of 7 were committed
    campaign = CampaignFactory()
    crash_on_chunk(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        generate("--campaign", str(campaign.pk), "--count", "30")
    batch = CodeBatch.objects.get()
    assert (batch.status, batch.made, batch.codes.count()) == (CodeBatchStatus.GENERATING, 14, 14)
    made_before = set(batch.codes.values_list("code", flat=True))
    monkeypatch.undo()

    # when the same command runs again
    output = generate("--campaign", str(campaign.pk), "--count", "30")

    # then the one batch is finished with the 16 missing codes, kept the first 14, and is audited once
    batch = CodeBatch.objects.get()
    assert (batch.status, batch.made, batch.codes.count()) == (CodeBatchStatus.COMPLETE, 30, 30)
    assert made_before < set(batch.codes.values_list("code", flat=True))
    assert PromoCode.objects.filter(campaign=campaign).count() == 30
    assert AuditRecord.objects.filter(action="promo_code.generate").count() == 1
    assert f"Made 16 codes for campaign {campaign.name} in batch {batch.pk} (“spring”)" in output
    assert "An earlier run had made the other 14; the batch now has all 30 codes." in output


def test_a_rerun_of_a_complete_batch_changes_nothing_and_says_so(tmp_path):
    # given a complete batch of 12
    campaign = CampaignFactory()
    generate("--campaign", str(campaign.pk), "--count", "12")
    codes = set(PromoCode.objects.values_list("code", flat=True))
    records = AuditRecord.objects.count()
    path = tmp_path / "again.csv"

    # when it is run again, with the same name and count
    output = generate("--campaign", str(campaign.pk), "--count", "12", "--output", str(path))

    # then no code, batch or audit record is added; it says so, and the CSV has the batch's codes
    batch = CodeBatch.objects.get()
    assert set(PromoCode.objects.values_list("code", flat=True)) == codes
    assert (batch.made, batch.status) == (12, CodeBatchStatus.COMPLETE)
    assert AuditRecord.objects.count() == records
    assert output == (
        f"Wrote 12 codes to {path}.\n"
        f"Batch {batch.pk} (“spring”) of campaign {campaign.name} was already complete with 12 codes: "
        "nothing was made.\n"
    )
    assert {row["code"] for row in read_csv(path.read_text(encoding="utf-8"))} == {format_code(c) for c in codes}


@pytest.mark.parametrize("count", ["13", "11"])
def test_a_rerun_with_another_count_is_refused_and_changes_nothing(monkeypatch, count):
    # given a batch of 12, started and crashed after its first chunk of 7
    campaign = CampaignFactory()
    crash_on_chunk(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        generate("--campaign", str(campaign.pk), "--count", "12")
    monkeypatch.undo()
    codes = set(PromoCode.objects.values_list("code", flat=True))

    # when it is run again for another count
    with pytest.raises(CommandError) as error:
        generate("--campaign", str(campaign.pk), "--count", count)

    # then
    assert str(error.value) == (
        f"Batch “spring” was started for 12 codes, not {count}. To finish it, run it again with the same count; "
        "for more codes, use another batch name."
    )
    batch = CodeBatch.objects.get()
    assert (batch.requested, batch.made, batch.status) == (12, 7, CodeBatchStatus.GENERATING)
    assert set(PromoCode.objects.values_list("code", flat=True)) == codes
    assert not AuditRecord.objects.filter(action="promo_code.generate").exists()


def test_one_batch_name_in_two_campaigns_is_two_batches_and_another_name_is_another_batch():
    # given
    spring, summer = CampaignFactory(), CampaignFactory()
    generate("--campaign", str(spring.pk), "--count", "3")

    # when
    generate("--campaign", str(summer.pk), "--count", "4")
    generate("--campaign", str(spring.pk), "--count", "3", batch="spring-2")

    # then
    batches = CodeBatch.objects.order_by("pk").values_list("campaign_id", "name", "made")
    assert list(batches) == [(spring.pk, "spring", 3), (summer.pk, "spring", 4), (spring.pk, "spring-2", 3)]
    assert PromoCode.objects.count() == 10


@pytest.mark.parametrize(
    ("name", "message"),
    [("  ", "Give the batch a name (--batch)."), ("x" * 101, "A batch name is at most 100 characters.")],
)
def test_a_blank_or_too_long_batch_name_is_refused_and_creates_nothing(name, message):
    # given
    campaign = CampaignFactory()

    # when
    with pytest.raises(CommandError) as error:
        generate("--campaign", str(campaign.pk), "--count", "5", batch=name)

    # then
    assert str(error.value) == message
    assert CodeBatch.objects.count() == 0
    assert PromoCode.objects.count() == 0


def test_the_batch_name_is_required():
    campaign = CampaignFactory()
    with pytest.raises(CommandError) as error:
        call_command("generate_promo_codes", "--campaign", str(campaign.pk), "--count", "5", stdout=io.StringIO())
    assert "--batch" in str(error.value)
    assert CodeBatch.objects.count() == 0


def test_export_filters_by_status_to_stdout():
    # given
    campaign = CampaignFactory(name="夏季優惠")
    available = PromoCodeFactory(campaign=campaign, code="AAAABBBBCCCCDDDDEEEE")
    PromoCodeFactory(campaign=campaign, void=True)
    PromoCodeFactory()  # another campaign's, available
    out, err = io.StringIO(), io.StringIO()

    # when
    call_command(
        "export_promo_codes",
        "--campaign",
        str(campaign.pk),
        "--status",
        "available",
        "--output",
        "-",
        stdout=out,
        stderr=err,
    )

    # then
    assert read_csv(out.getvalue()) == [
        {
            "code": "AAAA-BBBB-CCCC-DDDD-EEEE",
            "campaign": "夏季優惠",
            "status": "available",
            "valid_until": "2027-12-31T23:59:59+08:00",
        }
    ]
    assert available.display_code == "AAAA-BBBB-CCCC-DDDD-EEEE"
    assert err.getvalue() == "Wrote 1 codes.\n"


def test_export_filters_by_batch_to_a_file(tmp_path):
    # given
    campaign = CampaignFactory()
    PromoCodeFactory(campaign=campaign)
    generate("--campaign", str(campaign.pk), "--count", "5")
    batch = CodeBatch.objects.get()
    path = tmp_path / "batch.csv"

    # when
    call_command(
        "export_promo_codes",
        "--campaign",
        str(campaign.pk),
        "--batch",
        str(batch.pk),
        "--output",
        str(path),
        stdout=io.StringIO(),
    )

    # then
    exported = {row["code"] for row in read_csv(path.read_text(encoding="utf-8"))}
    assert exported == {code.display_code for code in batch.codes.all()}
    assert len(exported) == 5


def test_export_refuses_a_batch_of_another_campaign(tmp_path):
    # given
    campaign, other = CampaignFactory(), CampaignFactory()
    generate("--campaign", str(other.pk), "--count", "2")
    batch = CodeBatch.objects.get()

    # when
    with pytest.raises(CommandError) as error:
        call_command(
            "export_promo_codes",
            "--campaign",
            str(campaign.pk),
            "--batch",
            str(batch.pk),
            "--output",
            str(tmp_path / "x.csv"),
        )

    # then
    assert str(error.value) == f"Campaign {campaign.pk} has no batch {batch.pk}."
    assert not (tmp_path / "x.csv").exists()


def test_generate_refuses_an_unwritable_output_before_making_codes(tmp_path):
    # given
    campaign = CampaignFactory()
    path = tmp_path / "missing" / "codes.csv"

    # when
    with pytest.raises(CommandError) as error:
        generate("--campaign", str(campaign.pk), "--count", "5", "--output", str(path))

    # then
    assert str(error.value) == f"Cannot write {path}: No such file or directory"
    assert PromoCode.objects.count() == 0
