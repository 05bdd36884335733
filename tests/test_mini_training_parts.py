"""The pieces mini-IF's training adds to IF's recipe: a text encoder that repeats the prompt over the padding,
the stored caption bank, Min-SNR and v-prediction loss weighting, and stage II's degradations. Each is checked
against what it promises, on real tensors."""

from __future__ import annotations

import random

import pytest
import torch

from iflearn.mini import configs
from iflearn.mini.dataset import Scene, render
from iflearn.mini.degrade import colour_jitter, soften
from iflearn.mini.losses import hybrid_loss
from iflearn.mini.text_encoder import MAX_TOKENS, load_mini_text_encoder, minilm_folder


@pytest.fixture(scope="module")
def encoder():
    return load_mini_text_encoder()


def test_text_encoder_repeats_the_prompt_over_the_padding(encoder):
    from transformers import BertModel

    tokenizer, text_encoder = encoder
    tokens = tokenizer(["a big red circle on the left", "a cat"], padding="max_length", max_length=MAX_TOKENS,
                       return_tensors="pt")
    with torch.no_grad():
        ours = text_encoder(tokens.input_ids, attention_mask=tokens.attention_mask)[0]
        plain = BertModel.from_pretrained(minilm_folder()).eval()(tokens.input_ids,
                                                                  attention_mask=tokens.attention_mask)[0]
    mask = tokens.attention_mask.bool()
    assert ours.shape == (2, MAX_TOKENS, 384)
    torch.testing.assert_close(ours[mask], plain[mask])  # real tokens: BERT's own states
    for row, n in enumerate(tokens.attention_mask.sum(1).tolist()):  # padding: the real tokens again, in order
        torch.testing.assert_close(ours[row, n : 2 * n], plain[row, :n])
        torch.testing.assert_close(ours[row, -1], plain[row, (MAX_TOKENS - 1) % n])
    assert not torch.allclose(plain[~mask], ours[~mask])  # BERT's own padding states are something else


def test_caption_bank_file_keeps_real_tokens_and_rebuilds_the_padding(encoder, tmp_path):
    from iflearn.mini.train import CaptionBank, embed_captions

    texts = ["", "a red circle", "a big white triangle at the bottom on a green background"]
    bank = CaptionBank(texts, embed_captions(texts, encoder=encoder))
    bank.encoder = encoder
    path = tmp_path / "bank.safetensors"
    bank.save(path)
    loaded = CaptionBank.load(path)
    assert loaded.texts == texts and loaded.encoder is None
    assert torch.equal(loaded.embeds, bank.embeds)  # every one of the 77 positions, bit for bit
    assert path.stat().st_size < bank.embeds.numel() * 2 / 4  # only the ~2-13 real tokens per caption are stored
    assert torch.equal(loaded(["a red circle", ""]), bank.embeds[[1, 0]].float())


def _loss_parts(snr_gamma, t_value):
    scheduler = configs.stage1_scheduler()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(2, 3, 8, 8, generator=g)
    t = torch.full((2,), t_value)
    xt = scheduler.add_noise(x0, noise, t)
    output = torch.cat([noise + 0.3 * torch.randn(2, 3, 8, 8, generator=g), torch.zeros(2, 3, 8, 8)], dim=1)
    return hybrid_loss(scheduler, output, x0, xt, noise, t, vlb_weight=0.0, snr_gamma=snr_gamma)


def test_min_snr_weighting_shrinks_only_the_nearly_clean_steps():
    # t = 900: SNR << 5, the weight is 1; t = 10: SNR >> 5, the weight is 5 / SNR.
    noisy_plain, noisy_parts = _loss_parts(None, 900)
    noisy_weighted, _ = _loss_parts(5.0, 900)
    assert noisy_weighted.item() == pytest.approx(noisy_plain.item(), rel=1e-6)
    clean_plain, clean_parts = _loss_parts(None, 10)
    clean_weighted, clean_parts_w = _loss_parts(5.0, 10)
    abar = configs.stage1_scheduler().alphas_cumprod[10]
    snr = float(abar / (1 - abar))
    assert snr > 5
    assert clean_weighted.item() == pytest.approx(clean_plain.item() * 5 / snr, rel=1e-4)
    assert clean_parts_w["mse"] == pytest.approx(clean_parts["mse"])  # the reported mse stays unweighted


def test_colour_jitter_moves_both_resolutions_the_same_way():
    scene = Scene(colour="red", shape="circle", size="big", position="in the center", background="blue")
    high, low = render(scene, 128), render(scene, 32)
    changed = colour_jitter([high, low], random.Random(3))
    assert all(c.min() >= -1 and c.max() <= 1 for c in changed)
    assert (changed[1] - low).abs().mean() > 0.02  # the colours did move
    # One change, both resolutions: the shape's centre and the background's corner get the same new colour.
    for (yh, xh), (yl, xl) in [((64, 64), (16, 16)), ((2, 2), (0, 0))]:
        torch.testing.assert_close(changed[0][:, yh, xh], changed[1][:, yl, xl], atol=1e-4, rtol=0)
    torch.testing.assert_close(colour_jitter([low], random.Random(3), strength=0.0)[0], low)


def test_soften_blurs_edges_and_keeps_flat_colour():
    scene = Scene(colour="white", shape="square", size="big", position="in the center", background="black")
    low = render(scene, 32)
    blurred = soften(low, 0.8)
    assert blurred.shape == low.shape
    assert torch.equal(soften(low, 0.0), low)
    edge = lambda x: (x[:, :, 1:] - x[:, :, :-1]).abs().max()  # noqa: E731
    assert edge(blurred) < 0.8 * edge(low)
    torch.testing.assert_close(blurred[:, :3, :3], low[:, :3, :3], atol=1e-5, rtol=0)  # flat corner unchanged


def test_v_weighting_of_an_epsilon_loss_is_the_v_prediction_loss():
    scheduler = configs.stage1_scheduler()
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(3, 3, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(3, 3, 8, 8, generator=g)
    t = torch.tensor([50, 400, 700])  # 1 / abar_t below the cap of 20 for all three
    xt = scheduler.add_noise(x0, noise, t)
    eps_hat = noise + 0.2 * torch.randn(3, 3, 8, 8, generator=g)
    output = torch.cat([eps_hat, torch.zeros_like(eps_hat)], dim=1)
    loss, parts = hybrid_loss(scheduler, output, x0, xt, noise, t, vlb_weight=0.0, v_weight_max=20.0)
    abar = scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    x0_hat = (xt - (1 - abar).sqrt() * eps_hat) / abar.sqrt()
    v_hat = abar.sqrt() * eps_hat - (1 - abar).sqrt() * x0_hat
    v_loss = ((v_hat - scheduler.get_velocity(x0, noise, t)) ** 2).mean(dim=(1, 2, 3)).mean()
    assert loss.item() == pytest.approx(v_loss.item(), rel=1e-4)
    assert parts["mse"] == pytest.approx(((eps_hat - noise) ** 2).mean().item(), rel=1e-5)
    # At t = 990 the picture is almost pure noise: the weight stops at the cap.
    late = torch.full((1,), 990)
    capped, _ = hybrid_loss(scheduler, output[:1], x0[:1], scheduler.add_noise(x0[:1], noise[:1], late), noise[:1],
                            late, vlb_weight=0.0, v_weight_max=20.0)
    assert capped.item() == pytest.approx(20.0 * ((eps_hat[:1] - noise[:1]) ** 2).mean().item(), rel=1e-5)
