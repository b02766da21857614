import json

import pytest
import torch

from models.text import PAD_ID, UNK_ID, TextEncoder, Vocabulary, tokenize

SENTENCES = [
    "Change colour to red",
    "change colour to blue, please!",
    "has long sleeves",
    "search a shoes that matches this dress best",
]


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("Change colour to RED, please!") == ["change", "colour", "to", "red", ",", "please", "!"]
    assert tokenize("t-shirt") == ["t", "-", "shirt"]
    assert tokenize("  ") == []


def test_specials_and_frequency_order():
    vocab = Vocabulary.build(SENTENCES)
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert PAD_ID == 0 and UNK_ID == 1
    # most frequent first ("change", "colour", "to" appear twice), ties alphabetical
    assert vocab.words[2:5] == ["change", "colour", "to"]
    assert vocab.token_id("red") > 1


def test_min_freq_drops_rare_words():
    vocab = Vocabulary.build(SENTENCES, min_freq=2)
    assert vocab.words == ["<pad>", "<unk>", "change", "colour", "to"]
    with pytest.raises(ValueError):
        Vocabulary.build(SENTENCES, min_freq=0)


def test_encode_unknown_case_and_punctuation():
    vocab = Vocabulary.build(SENTENCES)
    ids = vocab.encode("CHANGE colour to Purple!")
    assert ids == [vocab.token_id("change"), vocab.token_id("colour"), vocab.token_id("to"), UNK_ID,
                   vocab.token_id("!")]
    assert vocab.decode(ids) == ["change", "colour", "to", "<unk>", "!"]


def test_encode_empty_text_is_single_unk():
    vocab = Vocabulary.build(SENTENCES)
    assert vocab.encode("") == [UNK_ID]
    assert vocab.encode("   \n") == [UNK_ID]


def test_encode_truncates_to_60_tokens():
    vocab = Vocabulary.build(SENTENCES)
    ids = vocab.encode("red " * 100)
    assert len(ids) == 60 and set(ids) == {vocab.token_id("red")}
    assert len(vocab.encode("red " * 100, max_len=5)) == 5


def test_encode_batch_pads_with_pad_id():
    vocab = Vocabulary.build(SENTENCES)
    ids, lengths = vocab.encode_batch(["change colour to red", "", "has long sleeves"])
    assert ids.shape == (3, 4) and ids.dtype == torch.long
    assert lengths.tolist() == [4, 1, 3]
    assert ids[1].tolist() == [UNK_ID, PAD_ID, PAD_ID, PAD_ID]


def test_dict_round_trip_through_json():
    vocab = Vocabulary.build(SENTENCES)
    restored = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored.words == vocab.words
    assert restored.encode("change colour to blue") == vocab.encode("change colour to blue")
    with pytest.raises(ValueError, match="<pad>"):
        Vocabulary.from_dict({"tokens": ["red", "<unk>"]})


def test_load_word_vectors_initialises_known_words(tmp_path):
    vocab = Vocabulary.build(["red blue dress"])
    path = tmp_path / "vectors.txt"
    path.write_text("red 1.0 2.0 3.0\nBlue 4 5 6\nunrelated 7 8 9\n", encoding="utf-8")
    loaded = vocab.load_word_vectors(path)
    assert loaded.dim == 3 and loaded.found == 2
    assert loaded.weights.shape == (len(vocab), 3)
    assert loaded.weights[vocab.token_id("red")].tolist() == [1.0, 2.0, 3.0]
    assert loaded.weights[vocab.token_id("blue")].tolist() == [4.0, 5.0, 6.0]  # case-insensitive match
    assert torch.count_nonzero(loaded.weights[PAD_ID]) == 0

    encoder = TextEncoder(len(vocab), word_dim=3, hidden_dim=4, out_dim=5)
    base = encoder.embedding.weight.detach().clone()
    loaded = vocab.load_word_vectors(path, base=base)
    encoder.init_word_embeddings(loaded.weights)
    assert encoder.embedding.weight[vocab.token_id("red")].tolist() == [1.0, 2.0, 3.0]
    dress = vocab.token_id("dress")
    assert torch.equal(encoder.embedding.weight[dress], base[dress])  # not in the file: kept


def test_load_word_vectors_dimension_mismatch(tmp_path):
    vocab = Vocabulary.build(["red blue"])
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("red 1 2 3\nblue 4 5\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2.*2 values but 3"):
        vocab.load_word_vectors(ragged)
    good = tmp_path / "good.txt"
    good.write_text("red 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"3 values but 50"):
        vocab.load_word_vectors(good, dim=50)
    encoder = TextEncoder(len(vocab), word_dim=8, hidden_dim=4, out_dim=5)
    with pytest.raises(ValueError, match="word-embedding matrix"):
        encoder.init_word_embeddings(vocab.load_word_vectors(good).weights)
    with pytest.raises(FileNotFoundError):
        vocab.load_word_vectors(tmp_path / "missing.txt")


def test_text_encoder_shape():
    torch.manual_seed(0)
    vocab = Vocabulary.build(SENTENCES)
    encoder = TextEncoder(len(vocab), word_dim=8, hidden_dim=6, out_dim=10)
    ids, lengths = vocab.encode_batch(SENTENCES)
    assert encoder(ids, lengths).shape == (len(SENTENCES), 10)
    assert encoder.gru.bidirectional and encoder.gru.hidden_size == 6
    with pytest.raises(ValueError, match="length"):
        encoder(ids, torch.zeros(len(SENTENCES), dtype=torch.long))


def test_text_encoder_is_invariant_to_padding():
    torch.manual_seed(0)
    vocab = Vocabulary.build(SENTENCES)
    encoder = TextEncoder(len(vocab), word_dim=8, hidden_dim=6, out_dim=10).eval()
    ids = torch.tensor(vocab.encode("change colour to red"))
    length = torch.tensor([ids.numel()])
    short = ids.unsqueeze(0)  # (1, 4)
    padded = torch.cat([ids, torch.zeros(16, dtype=torch.long)]).unsqueeze(0)  # (1, 20)
    with torch.no_grad():
        out_short = encoder(short, length)
        out_padded = encoder(padded, length)
        # inside a batch next to a longer caption (more padding again)
        batch_ids, batch_lengths = vocab.encode_batch(["change colour to red", "search a shoes that matches this dress best"])
        out_batch = encoder(batch_ids, batch_lengths)
    assert torch.equal(out_short, out_padded)
    torch.testing.assert_close(out_batch[0:1], out_short, rtol=1e-5, atol=1e-6)
    # padding tokens must not leak in even where they would win the max: make pad embeddings huge
    with torch.no_grad():
        encoder.embedding.weight[PAD_ID] = 1e3
        assert torch.equal(encoder(padded, length), out_short)


def test_encode_batch_edge_cases_keep_the_first_60_tokens():
    """Over-long, unknown-only and empty captions in one batch: width 60, the first 60 tokens kept."""
    vocab = Vocabulary.build(SENTENCES)
    long_caption = " ".join(["change", "colour", "to", "red"] * 20)  # 80 known tokens
    ids, lengths = vocab.encode_batch([long_caption, "zebra quokka", "", "?!"])
    assert ids.shape == (4, 60) and lengths.tolist() == [60, 2, 1, 2]
    assert vocab.decode(ids[0]) == (["change", "colour", "to", "red"] * 15)
    assert ids[1, :2].tolist() == [UNK_ID, UNK_ID] and ids[2, 0].item() == UNK_ID
    assert ids[3, :2].tolist() == [vocab.token_id("?"), vocab.token_id("!")]
    encoder = TextEncoder(len(vocab), word_dim=6, hidden_dim=5, out_dim=7)
    assert encoder(ids, lengths).shape == (4, 7)
