"""The teaching helpers agree with diffusers: noising, the unrolled denoising loop, variations."""

from __future__ import annotations

import pytest
import torch
from diffusers.pipelines.deepfloyd_if import fast27_timesteps

from iflearn import errors
from iflearn.denoise import classifier_free_guidance, denoise, dynamic_threshold, variance_range
from iflearn.noise import alpha_bar, if_scheduler, load_photo, noise_at, q_sample, signal_to_noise
from iflearn.variations import box_mask, img2img, inpaint, super_resolve


def test_closed_form_equals_scheduler_add_noise():
    scheduler = if_scheduler()
    x0 = load_photo("astronaut", 32)
    assert x0.shape == (1, 3, 32, 32) and x0.min() >= -1 and x0.max() <= 1
    noise = torch.randn_like(x0)
    for t in (0, 10, 250, 500, 999):
        expected = scheduler.add_noise(x0, noise, torch.tensor([t]))
        assert torch.allclose(q_sample(x0, t, noise, scheduler), expected, atol=1e-6)


def test_schedule_is_cosine_and_snr_falls():
    scheduler = if_scheduler()
    abar, snr = alpha_bar(scheduler), signal_to_noise(scheduler)
    assert abar.shape == (1000,) and abar[0] > 0.999 and abar[-1] < 1e-3
    assert torch.all(abar[1:] < abar[:-1]) and torch.all(snr[1:] < snr[:-1])
    assert len(noise_at(load_photo(size=16), [0, 500, 999])) == 3


@pytest.mark.parametrize("kwargs", [dict(num_inference_steps=6), dict(timesteps=fast27_timesteps)])
def test_unrolled_loop_equals_ifpipeline(tiny_cascade, kwargs):
    enc = tiny_cascade.encode("a red circle")
    pipe = tiny_cascade.pipe("stage1")
    pipe.set_progress_bar_config(disable=True)
    mine = denoise(pipe, enc.prompt_embeds, enc.negative_embeds, guidance_scale=7.0, seed=4, progress=False, **kwargs)
    theirs = pipe(prompt_embeds=enc.prompt_embeds, negative_prompt_embeds=enc.negative_embeds, guidance_scale=7.0,
                  generator=torch.Generator().manual_seed(4), output_type="pt", **kwargs).images
    assert (mine.image - theirs).abs().max() < 1e-4
    assert len(mine.steps) == len(kwargs.get("timesteps", range(6)))
    ts = [s.t for s in mine.steps]
    assert ts == sorted(ts, reverse=True) and ts[-1] == 0 and ts == [int(t) for t in pipe.scheduler.timesteps]
    assert mine.steps[0].x_t.shape == (1, 3, 32, 32)


def test_guidance_and_thresholding_maths():
    u, c = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    assert torch.equal(classifier_free_guidance(u, c, 1.0), c)
    assert torch.equal(classifier_free_guidance(u, c, 7.0), 7 * c)
    x0 = torch.linspace(-3, 3, 48).view(1, 3, 4, 4)
    out = dynamic_threshold(x0)
    assert out.abs().max() <= 1.0 + 1e-6
    scheduler = if_scheduler()
    ours = dynamic_threshold(x0, 0.95, 1.5)
    assert torch.allclose(ours, scheduler._threshold_sample(x0.clone()), atol=1e-6)
    low, high = variance_range(scheduler, 500)
    assert 0 < low < high < 1


def test_variations_shapes_and_keep_outside_mask(tiny_cascade):
    image = load_photo("astronaut", 32)
    styled = img2img(tiny_cascade, image, "a blue square", strength=0.3, steps=6)
    assert styled.shape == (1, 3, 32, 32)
    mask = box_mask(32, 8, 8, 16, 16)
    filled = inpaint(tiny_cascade, image, mask, "a red circle", steps=4)
    assert filled.shape == (1, 3, 32, 32)
    keep = (mask == 0).expand_as(image)
    assert (filled[keep] - image[keep]).abs().mean() < (filled[~keep] - image[~keep]).abs().mean()
    big = super_resolve(tiny_cascade, image, steps=3)
    assert big.shape == (1, 3, 128, 128)


def test_variations_reject_bad_input(tiny_cascade):
    with pytest.raises(errors.BadArgumentError, match=r"\(1, 3, 32, 32\)"):
        img2img(tiny_cascade, torch.zeros(1, 3, 64, 64), "x")
    with pytest.raises(errors.BadArgumentError, match="strength=1.5"):
        img2img(tiny_cascade, torch.zeros(1, 3, 32, 32), "x", strength=1.5)
    with pytest.raises(errors.BadArgumentError, match="mask"):
        inpaint(tiny_cascade, torch.zeros(1, 3, 32, 32), torch.zeros(32, 32), "x")


def test_show_grid_titles_and_sizes(monkeypatch):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from iflearn.plotting import show_grid

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    pictures = [torch.zeros(1, 3, 32, 32), torch.ones(3, 16, 16), Image.new("RGB", (8, 8))]
    assert show_grid(pictures, ["a", "b", "c"], "three", columns=2) is None
    (fig,) = shown
    assert not plt.fignum_exists(fig.number)  # closed after showing
    used = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in used] == ["a", "b", "c"] and len(fig.axes) == 4  # 2 x 2, one left empty
    assert [ax.get_xlabel() for ax in used] == ["32 x 32 px", "16 x 16 px", "8 x 8 px"]
    assert fig._suptitle.get_text() == "three"
    with pytest.raises(ValueError, match="2 pictures but 1 titles"):
        show_grid(pictures[:2], ["a"], "x")


def test_shape_mask_and_iou():
    from iflearn.variations import mask_iou, shape_mask

    box = box_mask(16, 4, 4, 8, 8)
    picture = box.repeat(1, 3, 1, 1) * 2 - 1            # a white square on black
    assert torch.equal(shape_mask(picture), box)         # background read from the border
    assert shape_mask(picture, background=torch.ones(3)).sum() == 16 * 16 - 64
    assert mask_iou(box, box) == 1.0 and mask_iou(box, 1 - box) == 0.0
    assert mask_iou(box, box_mask(16, 4, 4, 8, 4)) == 0.5
