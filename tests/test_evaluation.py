import torch

from actionrec.evaluation import classification_metrics, plot_confusion, video_scores


def test_video_accuracy_averages_clip_scores():
    # video 0 (label 0): clips say 0 strongly, 1 weakly -> video says 0, clip acc 1/2
    probs = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    clip_labels = torch.tensor([0, 0, 1, 1])
    clip_video = torch.tensor([0, 0, 1, 1])
    m = classification_metrics(probs, clip_labels, clip_video, torch.tensor([0, 1]), ["a", "b"])
    assert m["top1"] == 1.0 and m["clip_top1"] == 0.75
    assert m["num_videos"] == 2 and m["num_clips"] == 4
    torch.testing.assert_close(video_scores(probs, clip_video, 2)[0], torch.tensor([0.65, 0.35]))


def test_mean_class_accuracy_weights_classes_equally():
    # 3 videos of class a all right, 1 video of class b wrong: top-1 .75, mean class .5
    probs = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]])
    labels = torch.tensor([0, 0, 0, 1])
    m = classification_metrics(probs, labels, torch.arange(4), labels, ["a", "b", "c"])
    assert m["top1"] == 0.75 and m["mean_class_acc"] == 0.5
    assert m["confusion_matrix"][1][0] == 1
    assert [r["videos"] for r in m["per_class"]] == [3, 1, 0]


def test_top5_counts_a_hit_anywhere_in_the_five_best():
    probs = torch.zeros(1, 7)
    probs[0] = torch.tensor([0.3, 0.2, 0.15, 0.1, 0.09, 0.08, 0.08])
    m = classification_metrics(probs, torch.tensor([4]), torch.tensor([0]), torch.tensor([4]),
                               list("abcdefg"))
    assert m["top1"] == 0.0 and m["top5"] == 1.0


def test_confusion_png_is_written(tmp_path):
    path = plot_confusion(torch.tensor([[3, 1], [0, 4]]).numpy(), ["grow", "shrink"],
                          tmp_path / "cm.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_output_says_plainly_when_frame_order_added_nothing():
    from actionrec.pipeline import order_verdict
    assert order_verdict({"top1": 0.7, "baseline_top1": 0.6, "probe_top1": 0.72}).startswith(
        "frame order added nothing")
    assert order_verdict({"top1": 0.9, "baseline_top1": 0.6, "probe_top1": 0.72}) is None
