"""The configuration loader: YAML file, then REHSOS_* environment overrides (rehsos/config.py)."""
import pytest
import yaml

from rehsos import serve
from rehsos.config import DEV_PERSON_KEY_SECRET, ConfigError, load

NODE_CONFIG = {
    "node": "6371",
    "broker_uri": "amqp://guest:guest@127.0.0.1:5672/node-6371",
    "hub_broker_uri": "amqp://node-6371@127.0.0.1:5672/hub",
    "database_uri": "sqlite:///var/6371/{service}.db",
    "auth_database_uri": "sqlite:///var/6371/auth.db",
    "http": {"host": "127.0.0.1", "port": 8100},
}


@pytest.fixture
def write_config(tmp_path):
    def write(data=None, **changes):
        data = {**NODE_CONFIG, **changes} if data is None else data
        path = tmp_path / "node.yaml"
        path.write_text(yaml.safe_dump({k: v for k, v in data.items() if v is not ...}))
        return path
    return write


def test_yaml_file_is_loaded(write_config):
    settings = load(write_config(), environ={})
    assert settings.node == "6371"
    assert settings.broker_uri == NODE_CONFIG["broker_uri"]
    assert settings.http["port"] == 8100
    assert not settings.is_hub


def test_top_level_env_override_replaces_the_file_value(write_config):
    settings = load(write_config(), environ={"REHSOS_BROKER_URI": "amqp://u:p@broker:5672/node-6371"})
    assert settings.broker_uri == "amqp://u:p@broker:5672/node-6371"


def test_nested_env_override_is_parsed_as_yaml_and_keeps_sibling_keys(write_config):
    settings = load(write_config(), environ={"REHSOS_HTTP__PORT": "8171"})
    assert settings.http["port"] == 8171
    assert isinstance(settings.http["port"], int)
    assert settings.http["host"] == "127.0.0.1"


def test_several_processes_share_the_nodes_port_only_when_configured(write_config):
    assert load(write_config()).http["share_port"] is False  # a second process started by mistake fails
    assert load(write_config(), environ={"REHSOS_HTTP__SHARE_PORT": "true"}).http["share_port"] is True


def test_nested_env_override_creates_a_section_missing_from_the_file(write_config):
    settings = load(write_config(http=...), environ={"REHSOS_RELAY__BATCH_SIZE": "7"})
    assert settings.relay["batch_size"] == 7


def test_env_without_the_rehsos_prefix_is_ignored(write_config):
    settings = load(write_config(), environ={"BROKER_URI": "amqp://elsewhere", "HTTP__PORT": "1"})
    assert settings.broker_uri == NODE_CONFIG["broker_uri"]
    assert settings.http["port"] == 8100


def test_node_from_env_stays_a_string(write_config):
    settings = load(write_config(node="6303"), environ={"REHSOS_NODE": "6371"})
    assert settings.node == "6371"
    assert isinstance(settings.node, str)


def test_unquoted_numeric_node_in_yaml_becomes_a_string(write_config):
    settings = load(write_config(node=6371), environ={})
    assert settings.node == "6371"


def test_rehsos_config_env_names_the_file(write_config):
    settings = load(environ={"REHSOS_CONFIG": str(write_config(node="6303"))})
    assert settings.node == "6303"


@pytest.mark.parametrize("node", ["9999", "64", "6371x", ""])
def test_unknown_node_is_refused(write_config, node):
    with pytest.raises(ConfigError, match="unknown node"):
        load(write_config(node=node), environ={})


def test_unknown_node_from_env_is_refused(write_config):
    with pytest.raises(ConfigError, match="unknown node"):
        load(write_config(), environ={"REHSOS_NODE": "1234"})


def test_node_without_hub_broker_uri_is_refused(write_config):
    with pytest.raises(ConfigError, match="hub_broker_uri"):
        load(write_config(hub_broker_uri=...), environ={})


def test_hub_needs_no_hub_broker_uri(write_config):
    settings = load(write_config(node="hub", hub_broker_uri=...), environ={})
    assert settings.is_hub
    assert settings.hub_broker_uri is None


def test_database_uri_for_replaces_the_service_placeholder(write_config):
    settings = load(write_config(), environ={})
    assert settings.database_uri_for("intake") == "sqlite:///var/6371/intake.db"
    assert settings.database_uri_for("training") == "sqlite:///var/6371/training.db"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "absent.yaml", environ={})


def test_invalid_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("node: [6371\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(path, environ={})


@pytest.mark.parametrize("missing", ["broker_uri", "database_uri", "auth_database_uri"])
def test_missing_required_key_is_a_config_error_naming_it(write_config, missing):
    with pytest.raises(ConfigError, match=missing):
        load(write_config(**{missing: ...}), environ={})


def test_a_node_without_the_person_key_loads_for_the_tools_but_refuses_to_serve(write_config):
    settings = load(write_config(person_key_secret=None), environ={})  # migrate, bootstrap, token need no key
    assert settings.person_key_secret is None
    with pytest.raises(ConfigError, match="person_key_secret is not set"):
        settings.require_servable()


def test_person_key_secret_from_env_is_the_nodes_key(write_config):
    settings = load(write_config(), environ={"REHSOS_PERSON_KEY_SECRET": "a-real-secret-of-the-province"})
    assert settings.person_key_secret == "a-real-secret-of-the-province"
    assert not settings.is_dev_secret
    settings.require_servable()


def test_the_development_key_serves_only_in_dev_mode(write_config):
    with pytest.raises(ConfigError, match="public development key"):
        load(write_config(person_key_secret=DEV_PERSON_KEY_SECRET), environ={}).require_servable()
    dev = load(write_config(), environ={"REHSOS_DEV_MODE": "true"})
    assert dev.dev_mode and dev.is_dev_secret  # the default key, allowed in development only
    dev.require_servable()


def test_the_hub_must_not_hold_the_person_key(write_config):
    hub = {"node": "hub", "hub_broker_uri": ...}
    assert load(write_config(**hub), environ={}).person_key_secret is None
    assert load(write_config(**hub, dev_mode=True), environ={}).person_key_secret is None
    with pytest.raises(ConfigError, match="the hub must not hold"):
        load(write_config(**hub), environ={"REHSOS_PERSON_KEY_SECRET": "a-real-secret-of-the-province"})


def test_serve_refuses_a_node_with_the_development_key(write_config, capsys):
    path = write_config(person_key_secret=DEV_PERSON_KEY_SECRET)
    assert serve.main(["--config", str(path)]) == 2
    assert "public development key" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="public development key"):
        serve.make_runner(load(path, environ={}))


@pytest.mark.parametrize("url,secure", [(None, False), ("http://hub.example", False),
                                        ("https://rehsos.kalselprov.go.id", True)])
def test_pages_are_served_over_https_when_the_public_url_says_so(write_config, url, secure):
    settings = load(write_config(), environ={} if url is None else {"REHSOS_HTTP__PUBLIC_URL": url})
    assert settings.over_https is secure


def test_a_section_left_out_of_the_file_gets_its_defaults(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text("node: hub\nbroker_uri: amqp://x\ndatabase_uri: sqlite:///x\nauth_database_uri: sqlite:///y\n")
    settings = load(path, environ={})
    assert settings.consumer == {"retry_base": 0.5, "retry_cap": 60.0, "batch_size": 200, "batch_wait": 0.01}
    assert settings.relay["poll_interval"] == 0.5 and settings.http["port"] == 8000


# -- dossier keys (rehsos.sealing) -------------------------------------------------------------------
def test_a_nodes_dossier_key_comes_from_the_environment_and_its_public_key_from_the_topology(write_config):
    from rehsos import sealing

    private, public = sealing.new_key_pair()
    _, other = sealing.new_key_pair()
    settings = load(write_config(node_public_keys={"6371": public, "63": other}),
                    environ={"REHSOS_DOSSIER_PRIVATE_KEY": private})
    assert settings.dossier_private_key == private
    assert settings.node_public_keys == {"6371": public, "63": other}
    assert settings.dossier_problem("63") is None
    assert "no public key of node 6303" in settings.dossier_problem("6303")
    assert private not in repr(settings)  # settings end up in tracebacks and logs


def test_a_node_without_a_dossier_key_loads_and_says_it_can_neither_send_nor_receive(write_config):
    settings = load(write_config(), environ={"REHSOS_PERSON_KEY_SECRET": "a-real-secret-of-the-province"})
    assert settings.dossier_private_key is None and settings.node_public_keys == {}
    assert "can neither send nor receive referral dossiers" in settings.dossier_problem()
    settings.require_servable()  # it still runs


@pytest.mark.parametrize("key, message", [("not-a-key", "not base64"), ("QUJD", "not a 32-byte")])
def test_a_dossier_key_that_is_not_one_is_refused_without_repeating_it(write_config, key, message):
    with pytest.raises(ConfigError, match=message) as refused:
        load(write_config(dossier_private_key=key), environ={})
    assert key not in str(refused.value)


def test_a_private_key_that_does_not_match_the_nodes_published_key_is_refused(write_config):
    from rehsos import sealing

    private, _ = sealing.new_key_pair()
    _, someone_elses = sealing.new_key_pair()
    with pytest.raises(ConfigError, match="other nodes would seal dossiers this node cannot open"):
        load(write_config(dossier_private_key=private, node_public_keys={"6371": someone_elses}), environ={})
    with pytest.raises(ConfigError, match="unknown node"):
        load(write_config(node_public_keys={"9999": someone_elses}), environ={})


def test_the_hub_must_not_hold_a_dossier_key(write_config):
    from rehsos import sealing

    hub = {"node": "hub", "hub_broker_uri": ...}
    with pytest.raises(ConfigError, match="relays dossiers it cannot read"):
        load(write_config(**hub), environ={"REHSOS_DOSSIER_PRIVATE_KEY": sealing.new_key_pair()[0]})


def test_logs_are_json_and_metrics_public_unless_configured_otherwise(write_config):
    settings = load(write_config(), environ={})
    assert (settings.log_format, settings.metrics_public, settings.metrics_token) == ("json", True, None)
    assert load(write_config(log_format="text"), environ={}).log_format == "text"
    with pytest.raises(ConfigError, match="log_format"):
        load(write_config(log_format="xml"), environ={})


def test_metrics_not_public_need_a_token_of_their_own_kept_out_of_the_repr(write_config):
    with pytest.raises(ConfigError, match="metrics_token"):
        load(write_config(metrics_public=False), environ={})
    settings = load(write_config(metrics_public=False), environ={"REHSOS_METRICS_TOKEN": "scrape-token-0123456789"})
    assert settings.metrics_token == "scrape-token-0123456789" and "scrape-token" not in repr(settings)
