import pytest
import yaml

from actionrec.config import CONFIG_DIR, Config, load_config
from actionrec.errors import ConfigError


def test_default_yaml_matches_the_code_defaults():
    assert yaml.safe_load((CONFIG_DIR / "default.yaml").read_text()) == Config().to_dict()


@pytest.mark.parametrize("preset", ["default", "demo", "ucf101", "personal"])
def test_presets_load(preset):
    cfg = load_config(preset)
    assert cfg.train.grad_clip > 0


def test_overrides_apply_with_yaml_types():
    cfg = load_config("default", ["train.lr=3e-4", "head.num_layers=3", "backbone.pooling=grid"])
    assert cfg.train.lr == pytest.approx(3e-4) and cfg.head.num_layers == 3
    assert cfg.backbone.pooling == "grid"


def test_unknown_key_fails_loudly_listing_allowed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"train.learning_rate.*allowed:.*\blr\b"):
        load_config(bad)


def test_bad_choice_and_bad_number_name_the_value():
    with pytest.raises(ConfigError, match="sgd"):
        load_config(None, ["train.optimizer=sgd"])
    with pytest.raises(ConfigError, match="sampling.clip_steps"):
        load_config(None, ["sampling.clip_steps=0"])
    with pytest.raises(ConfigError, match="nonexistent"):
        load_config("nonexistent")


def test_fusion_weights_that_leave_the_flow_less_than_nothing_are_refused():
    with pytest.raises(ConfigError, match=r"fusion_weight \+ train.pose_weight must be at most 1.*0.8 \+ 0.5"):
        load_config(None, ["train.fusion_weight=0.8", "train.pose_weight=0.5"])
    with pytest.raises(ConfigError, match="motion.pose"):
        load_config(None, ["motion.pose=sometimes"])
    assert load_config("personal", ["train.fusion_weight=0.0"]).train.pose_weight == 1.0


@pytest.mark.parametrize("text, expected", [("off", "off"), ("on", "on"), ("auto", "auto"), ("false", "off")])
def test_motion_pose_on_and_off_mean_what_they_say_though_yaml_reads_them_as_booleans(tmp_path, text, expected):
    assert load_config(None, [f"motion.pose={text}"]).motion.pose == expected
    preset = tmp_path / "mine.yaml"
    preset.write_text(f"motion:\n  pose: {text}\n")
    assert load_config(preset).motion.pose == expected


@pytest.mark.parametrize("text, expected", [("off", "disabled"), ("false", "disabled"), ("no", "disabled"),
                                            ("on", "auto"), ("offline", "offline")])
def test_wandb_off_turns_the_logger_off_though_yaml_reads_it_as_a_boolean(tmp_path, text, expected):
    assert load_config(None, [f"logging.wandb={text}"]).logging.wandb == expected
    preset = tmp_path / "mine.yaml"
    preset.write_text(f"logging:\n  wandb: {text}\n")
    assert load_config(preset).logging.wandb == expected


def test_a_bare_boolean_for_a_setting_that_has_no_on_or_off_names_the_setting():
    with pytest.raises(ConfigError, match=r"head.readout=True is not one of mean, last"):
        load_config(None, ["head.readout=yes"])


@pytest.mark.parametrize("setting, key", [("head.pose_hidden_size=0", "head.pose_hidden_size"),
                                          ("head.pose_hidden_size=2.5", "head.pose_hidden_size"),
                                          ("head.pose_stats=3", "head.pose_stats"),
                                          ("train.pose_mirror=sometimes", "train.pose_mirror"),
                                          ("motion.pose_track=2", "motion.pose_track")])
def test_the_pose_stream_s_settings_are_checked_by_name(setting, key):
    with pytest.raises(ConfigError, match=key):
        load_config(None, [setting])
    assert load_config(None, ["head.pose_hidden_size=64"]).head.pose_hidden_size == 64


@pytest.mark.parametrize("setting", ["backbone.crop_size=abc", "backbone.crop_size=0", "backbone.crop_size=-5",
                                     "backbone.crop_size=160.5", "backbone.resize_size=big"])
def test_a_bad_input_size_stops_before_any_work_and_names_the_setting(setting):
    key, value = setting.split("=")
    with pytest.raises(ConfigError, match=rf"{key} must be null or a whole number of at least 1, got '?{value}"):
        load_config(None, [setting])
    assert load_config(None, ["backbone.crop_size=224"]).backbone.crop_size == 224
    assert load_config(None, ["backbone.crop_size=null"]).backbone.crop_size is None
