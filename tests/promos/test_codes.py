"""random_codes: codes drawn in bulk keep random_code's alphabet, length and odds (no modulo bias)."""

from collections import Counter

from promos import codes
from promos.codes import ALPHABET, CODE_LENGTH, looks_like_code, random_codes


def test_every_symbol_stands_for_the_same_number_of_byte_values_and_the_rest_are_dropped():
    # given the byte → symbol table and the bytes dropped
    kept = bytes(range(256)).translate(codes._BYTE_TO_SYMBOL, codes._DROPPED)
    # then 248 byte values are kept, 8 for each of the 31 symbols, and 248-255 are dropped
    assert len(kept) == 248
    assert Counter(kept.decode("ascii")) == dict.fromkeys(ALPHABET, 8)
    assert bytes(range(248, 256)) == codes._DROPPED


def test_dropped_bytes_are_skipped_and_the_next_ones_used(monkeypatch):
    # given OS randomness that opens with the eight dropped byte values, then counts 0, 1, 2, ...
    draws = []

    def token_bytes(size):
        draws.append(size)
        return bytes(range(248, 256)) + bytes(i % 248 for i in range(size - 8))

    monkeypatch.setattr(codes.secrets, "token_bytes", token_bytes)
    # when
    drawn = random_codes(2)
    # then the dropped bytes left no symbol, the codes are bytes 0-39 in order, and one draw sufficed
    assert drawn == [ALPHABET[:20], ALPHABET[20:] + ALPHABET[:9]]
    assert len(draws) == 1


def test_a_short_draw_is_topped_up(monkeypatch):
    # given OS randomness that is all dropped bytes the first time
    answers = iter([b"\xff" * 1000])
    real = codes.secrets.token_bytes
    monkeypatch.setattr(codes.secrets, "token_bytes", lambda size: next(answers, None) or real(size))
    # when
    drawn = random_codes(3)
    # then three whole codes came from the second draw
    assert len(drawn) == 3
    assert all(looks_like_code(code) for code in drawn)


def test_many_codes_have_the_right_shape_are_distinct_and_use_every_symbol_evenly():
    # when
    drawn = random_codes(20_000)
    # then
    assert len(drawn) == 20_000
    assert len(set(drawn)) == 20_000
    assert {len(code) for code in drawn} == {CODE_LENGTH}
    counts = Counter("".join(drawn))
    assert set(counts) == set(ALPHABET)
    # 400,000 symbols: each expected 12,903 times (sd ≈ 112); 6 sd either side never fails by chance
    assert all(12_230 < count < 13_580 for count in counts.values())
