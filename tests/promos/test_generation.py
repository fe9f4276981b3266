"""promo_codes_generate: named batches resume, unnamed ones are all or nothing, parallel runs never overfill."""

import pytest

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from promos import services
from promos.models import CodeBatch, CodeBatchStatus, PromoCode
from promos.services import promo_codes_generate
from tests.concurrency import run_at_once
from tests.factories import CampaignFactory, UserFactory


def dies_on_chunk(monkeypatch, chunk: int) -> None:
    """Chunks of 7 codes; the insert of chunk number `chunk` raises (the ones before went in)."""
    monkeypatch.setattr(services, "GENERATE_CHUNK", 7)
    insert, calls = services._insert_codes, []

    def dying_insert(codes, **kwargs):
        calls.append(len(codes))
        if len(calls) == chunk:
            raise RuntimeError("killed")
        insert(codes, **kwargs)

    monkeypatch.setattr(services, "_insert_codes", dying_insert)


@pytest.mark.django_db
def test_an_unnamed_batch_is_all_or_nothing(monkeypatch):
    # given an unnamed batch of 20 whose third chunk fails
    campaign = CampaignFactory()
    dies_on_chunk(monkeypatch, 3)
    # when
    with pytest.raises(RuntimeError):
        promo_codes_generate(campaign=campaign, count=20, actor=None)
    # then nothing of it is left
    assert CodeBatch.objects.count() == 0
    assert PromoCode.objects.count() == 0
    assert AuditRecord.objects.count() == 0


@pytest.mark.django_db
def test_an_unnamed_batch_is_made_whole_and_audited_as_before():
    # given
    campaign, admin = CampaignFactory(), UserFactory()
    progress = []
    # when
    batch = promo_codes_generate(campaign=campaign, count=9, actor=admin, progress=progress.append)
    # then
    batch.refresh_from_db()
    assert (batch.name, batch.requested, batch.made, batch.status) == ("", 9, 9, CodeBatchStatus.COMPLETE)
    assert progress == [9]
    record = AuditRecord.objects.get(action="promo_code.generate")
    assert (record.actor, record.after) == (admin, {"campaign": campaign.pk, "count": 9})


@pytest.mark.django_db
def test_a_named_batch_reports_progress_only_for_the_codes_it_makes(monkeypatch):
    # given a named batch of 20 (chunks of 7) that died in its second chunk
    campaign = CampaignFactory()
    dies_on_chunk(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        promo_codes_generate(campaign=campaign, count=20, actor=None, name="autumn")
    monkeypatch.undo()
    monkeypatch.setattr(services, "GENERATE_CHUNK", 7)
    progress = []
    # when it is run again, and once more
    batch = promo_codes_generate(campaign=campaign, count=20, actor=None, name=" autumn ", progress=progress.append)
    again = promo_codes_generate(campaign=campaign, count=20, actor=None, name="autumn", progress=progress.append)
    # then the second run made the 13 missing, the third nothing
    assert progress == [7, 6]
    assert again.pk == batch.pk
    assert (batch.made, batch.status, batch.codes.count()) == (20, CodeBatchStatus.COMPLETE, 20)


@pytest.mark.django_db
def test_a_count_below_one_is_refused_before_any_batch_is_made():
    campaign = CampaignFactory()
    with pytest.raises(ServiceError) as error:
        promo_codes_generate(campaign=campaign, count=0, actor=None, name="winter")
    assert error.value.code == "count"
    assert CodeBatch.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_runs_of_one_batch_at_once_take_turns_and_make_it_exactly_once(monkeypatch):
    # given four processes started at once for the same batch of 50, in chunks of 7
    campaign = CampaignFactory()
    monkeypatch.setattr(services, "GENERATE_CHUNK", 7)
    # when
    results = run_at_once(lambda i: promo_codes_generate(campaign=campaign, count=50, actor=None, name="rush").pk, 4)
    # then they all end on the one batch, which has exactly 50 codes and one audit record
    batch = CodeBatch.objects.get()
    assert results == [batch.pk] * 4
    assert (batch.made, batch.status, batch.codes.count()) == (50, CodeBatchStatus.COMPLETE, 50)
    assert PromoCode.objects.count() == 50
    assert AuditRecord.objects.filter(action="promo_code.generate").count() == 1
