use std::collections::HashMap;
use std::time::Duration;

use super::{Caller, Config, ConfigError, ControlSocket, HostFacts};
use crate::core::compile_cache::CacheSetting;
use crate::core::{ReadyOn, Swap};

const HOST: HostFacts = HostFacts {
    cpus: 4,
    memory_limit: None,
    pointer_width: 64,
};

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(&map(pairs), &HashMap::new(), &HOST)
}

#[test]
fn defaults_match_4x() {
    let p = env(&[]).unwrap().policy;
    assert_eq!(p.workers, 1);
    assert_eq!(p.kill_timeout, Duration::from_secs(5));
    assert_eq!(p.throttle, Duration::from_secs(1));
    assert_eq!(p.limits.max_memory_bytes, 1200 * 1024 * 1024);
    assert_eq!(p.limits.mem_failures, 10);
    assert_eq!(p.limits.max_cpu_percent, 95.0);
    assert_eq!(p.limits.interval, Duration::from_secs(2));
    assert_eq!(p.limits.warmup, Duration::from_secs(30));
    assert_eq!(p.ready_on, ReadyOn::Listening);
    assert_eq!(p.swap, Swap::Slot);
    assert_eq!(p.heartbeat_timeout, Some(Duration::from_secs(30)));
    assert!(p.drain);
}

#[test]
fn heartbeat_timeout_is_a_duration_or_off() {
    let timeout =
        |v| env(&[("MASTER_PROCESS_HEARTBEAT_TIMEOUT", v)]).map(|c| c.policy.heartbeat_timeout);
    assert_eq!(timeout("10s").unwrap(), Some(Duration::from_secs(10)));
    assert_eq!(timeout("off").unwrap(), None);
    assert_eq!(timeout("0").unwrap(), None);
    assert_eq!(
        timeout("50ms").unwrap_err().to_string(),
        r#"invalid MASTER_PROCESS_HEARTBEAT_TIMEOUT="50ms": expected a duration from 100 ms to 1 hour, such as 30s or 2 minutes, or 0/off to turn it off"#
    );
}

#[test]
fn reload_swap_is_slot_or_batch() {
    let swap = |v| env(&[("MASTER_PROCESS_RELOAD_SWAP", v)]).map(|c| c.policy.swap);
    assert_eq!(swap("batch").unwrap(), Swap::Batch);
    assert_eq!(swap(" Slot ").unwrap(), Swap::Slot);
    assert_eq!(
        swap("rolling").unwrap_err().to_string(),
        r#"invalid MASTER_PROCESS_RELOAD_SWAP="rolling": expected slot (each old worker goes once its own replacement is ready) or batch (once the whole batch is ready)"#
    );
}

#[test]
fn workers_auto_and_max_use_the_cpus_we_may_use() {
    assert_eq!(env(&[("WORKERS", "AUTO")]).unwrap().policy.workers, 4);
    assert_eq!(env(&[("WORKERS", "max")]).unwrap().policy.workers, 4);
    assert_eq!(env(&[("WORKERS", "3")]).unwrap().policy.workers, 3);
}

#[test]
fn bad_workers_name_the_variable_value_and_forms() {
    let e = env(&[("WORKERS", "abc")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid WORKERS="abc": expected a whole number from 1 to 1024, AUTO or MAX"#
    );
    assert!(env(&[("WORKERS", "0")]).is_err());
    assert!(env(&[("WORKERS", "-2")]).is_err());
    assert!(env(&[("WORKERS", "100000")]).is_err());
}

#[test]
fn empty_string_means_unset() {
    assert_eq!(
        env(&[("WORKERS", ""), ("MAX_KILL_TIMEOUT", "")])
            .unwrap()
            .policy,
        env(&[]).unwrap().policy
    );
}

#[test]
fn durations_are_ms_style_and_bounded() {
    let p = env(&[
        ("MAX_KILL_TIMEOUT", "2 minutes"),
        ("WORKER_THROTTLE", "0ms"),
    ])
    .unwrap()
    .policy;
    assert_eq!(p.kill_timeout, Duration::from_secs(120));
    assert_eq!(p.throttle, Duration::ZERO);
    let e = env(&[("MAX_KILL_TIMEOUT", "soon")]).unwrap_err();
    assert_eq!(e.name, "MAX_KILL_TIMEOUT");
    assert!(e.accepted.contains("5s"), "{e}");
    assert!(env(&[("MAX_KILL_TIMEOUT", "3 days")]).is_err());
    assert!(env(&[("MASTER_PROCESS_MONITOR_INTERVAL", "0")]).is_err());
}

#[test]
fn options_win_over_environment_and_are_named_as_options() {
    let opts = map(&[("workers", "2"), ("maxKillTimeout", "750")]);
    let c = Config::load(&map(&[("WORKERS", "3")]), &opts, &HOST).unwrap();
    assert_eq!(c.policy.workers, 2);
    assert_eq!(c.policy.kill_timeout, Duration::from_millis(750));
    let bad = Config::load(&HashMap::new(), &map(&[("workers", "lots")]), &HOST).unwrap_err();
    assert_eq!(bad.name, "option workers");
}

#[test]
fn unknown_options_are_refused() {
    let e = Config::load(&HashMap::new(), &map(&[("wrokers", "2")]), &HOST).unwrap_err();
    assert_eq!(e.name, "option wrokers");
    assert!(e.accepted.contains("workers"));
}

#[test]
fn cpu_monitor_failure_is_accepted_as_4x_readme_spelled_it() {
    assert_eq!(
        env(&[("CPU_MONITOR_FAILURE", "3")])
            .unwrap()
            .policy
            .limits
            .cpu_failures,
        3
    );
    let both = env(&[("CPU_MONITOR_FAILURES", "4"), ("CPU_MONITOR_FAILURE", "3")]).unwrap();
    assert_eq!(both.policy.limits.cpu_failures, 4);
}

#[test]
fn unix_socket_port_is_recognised() {
    let c = env(&[("PORT", "/tmp/app.sock")]).unwrap();
    assert!(c.policy.unix_socket);
    assert_eq!(c.socket_path.unwrap().to_str(), Some("/tmp/app.sock"));
    assert!(!env(&[("PORT", "3000")]).unwrap().policy.unix_socket);
}

#[test]
fn memory_default_shares_a_smaller_cgroup_limit() {
    let host = HostFacts {
        memory_limit: Some(1024 * 1024 * 1024),
        ..HOST
    };
    let c = Config::load(&map(&[("WORKERS", "4")]), &HashMap::new(), &host).unwrap();
    assert_eq!(c.policy.limits.max_memory_bytes, 256 * 1024 * 1024);
    assert_eq!(c.notes.len(), 1);
    let host32 = HostFacts {
        pointer_width: 32,
        ..HOST
    };
    let c32 = Config::load(&HashMap::new(), &HashMap::new(), &host32).unwrap();
    assert_eq!(c32.policy.limits.max_memory_bytes, 450 * 1024 * 1024);
}

#[test]
fn new_settings_validate() {
    assert_eq!(
        env(&[("MASTER_PROCESS_READY", "message")])
            .unwrap()
            .policy
            .ready_on,
        ReadyOn::Message
    );
    assert!(env(&[("MASTER_PROCESS_READY", "soonish")]).is_err());
    assert!(
        !env(&[("MASTER_PROCESS_DRAIN", "off")])
            .unwrap()
            .policy
            .drain
    );
    assert!(env(&[("MASTER_PROCESS_DRAIN", "maybe")]).is_err());
    // Kept as given: a scale may add slots later; a reload takes at most the slots there are.
    let batch = env(&[("WORKERS", "4"), ("MASTER_PROCESS_RELOAD_BATCH", "9")])
        .unwrap()
        .policy;
    assert_eq!(batch.reload_batch, 9);
    assert_eq!(batch.batch_size(4), 4);
    assert_eq!(batch.batch_size(12), 9);
    assert!(env(&[("MASTER_PROCESS_RELOAD_BATCH", "0")]).is_err());
    assert_eq!(
        env(&[("MASTER_PROCESS_MAX_CRASHES", "0")])
            .unwrap()
            .policy
            .max_crashes,
        0
    );
}

fn cli(env: &[(&str, &str)], options: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load_for(Caller::Cli, &map(env), &map(options), &HOST)
}

#[test]
fn the_command_line_names_a_bad_option_by_its_flag() {
    let e = cli(&[], &[("maxKillTimeout", "soon")]).unwrap_err();
    assert_eq!(e.name, "--max-kill-timeout");
    assert!(e
        .to_string()
        .starts_with(r#"invalid --max-kill-timeout="soon": expected"#));
    let e = cli(&[], &[("wrokers", "2")]).unwrap_err();
    assert_eq!(e.name, "--wrokers");
}

#[test]
fn web_concurrency_counts_for_the_command_line_only_and_after_workers() {
    let web = [("WEB_CONCURRENCY", "3")];
    assert_eq!(cli(&web, &[]).unwrap().policy.workers, 3);
    assert_eq!(env(&web).unwrap().policy.workers, 1, "init() as in 4.x");
    let both = [("WORKERS", "2"), ("WEB_CONCURRENCY", "3")];
    assert_eq!(cli(&both, &[]).unwrap().policy.workers, 2);
    assert_eq!(cli(&web, &[("workers", "4")]).unwrap().policy.workers, 4);
    let e = cli(&[("WEB_CONCURRENCY", "many")], &[]).unwrap_err();
    assert_eq!(e.name, "WEB_CONCURRENCY");
}

#[test]
fn control_socket_is_default_a_path_or_off() {
    let control = |v| env(&[("MASTER_PROCESS_CONTROL_SOCKET", v)]).map(|c| c.control);
    assert_eq!(env(&[]).unwrap().control, ControlSocket::Default);
    assert_eq!(control("OFF").unwrap(), ControlSocket::Off);
    assert_eq!(
        control("/run/app/control.sock").unwrap(),
        ControlSocket::Path("/run/app/control.sock".into())
    );
    for bad in ["relative.sock", "/dir/", &format!("/{}", "x".repeat(200))] {
        let e = control(bad).unwrap_err();
        assert_eq!(e.name, "MASTER_PROCESS_CONTROL_SOCKET");
        assert!(e.accepted.contains("absolute path"), "{e}");
    }
}

#[test]
fn workers_do_not_inherit_a_control_socket_path() {
    let path = env(&[("MASTER_PROCESS_CONTROL_SOCKET", "/tmp/c.sock")]).unwrap();
    assert_eq!(
        path.worker_env,
        [("MASTER_PROCESS_CONTROL_SOCKET".to_string(), String::new())]
    );
    let off = env(&[("MASTER_PROCESS_CONTROL_SOCKET", "off")]).unwrap();
    assert_eq!(off.worker_env, []);
    assert_eq!(env(&[]).unwrap().worker_env, []);
}

#[test]
fn every_setting_has_a_flag_and_help() {
    let flags: Vec<String> = super::settings().iter().map(|s| s.flag()).collect();
    assert!(flags.contains(&"--max-memory-allowed-mb".to_string()));
    assert!(flags.contains(&"--control-socket".to_string()));
    assert!(super::settings().iter().all(|s| !s.help.is_empty()));
}

#[test]
fn settings_in_force_name_every_option_in_forms_init_accepts() {
    let c = env(&[
        ("WORKERS", "3"),
        ("MAX_KILL_TIMEOUT", "2s"),
        ("PORT", "8080"),
    ])
    .unwrap();
    let json = c.in_force();
    for s in super::settings() {
        assert!(json.get(s.option).is_some(), "{} is missing", s.option);
    }
    assert_eq!(json["workers"], 3);
    assert_eq!(json["maxKillTimeout"], 2000);
    assert_eq!(json["port"], "8080");
    assert_eq!(json["reloadBatch"], "ALL");
    assert_eq!(json["controlSocket"], "default");
    let options: HashMap<String, String> = json
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| !v.is_null() && *k != "controlSocket")
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    let again = Config::load(&HashMap::new(), &options, &HOST).unwrap();
    assert_eq!(
        again.policy, c.policy,
        "fed back as options, the same policy"
    );
}

#[test]
fn compile_cache_is_on_by_default_off_by_switch_or_an_absolute_folder() {
    let cache = |v| env(&[("MASTER_PROCESS_COMPILE_CACHE", v)]).map(|c| c.compile_cache);
    assert_eq!(env(&[]).unwrap().compile_cache, CacheSetting::On);
    assert_eq!(cache("").unwrap(), CacheSetting::On);
    assert_eq!(cache(" ON ").unwrap(), CacheSetting::On);
    assert_eq!(cache("off").unwrap(), CacheSetting::Off);
    assert_eq!(cache("0").unwrap(), CacheSetting::Off);
    assert_eq!(
        cache("/var/cache/my app").unwrap(),
        CacheSetting::Folder("/var/cache/my app".into())
    );
    let opts = map(&[("compileCache", "false")]);
    let c = Config::load(&HashMap::new(), &opts, &HOST).unwrap();
    assert_eq!(c.compile_cache, CacheSetting::Off);
}

#[test]
fn a_relative_compile_cache_folder_is_refused_naming_the_forms() {
    let e = env(&[("MASTER_PROCESS_COMPILE_CACHE", "cache")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid MASTER_PROCESS_COMPILE_CACHE="cache": expected on, off (also true/false, yes/no, 1/0) or an absolute path to a folder"#
    );
    let opts = map(&[("compileCache", "./cache")]);
    let e = Config::load(&HashMap::new(), &opts, &HOST).unwrap_err();
    assert_eq!(e.name, "option compileCache");
}

#[test]
fn metrics_is_off_by_default_and_takes_a_port_an_address_or_a_socket_path() {
    use super::MetricsAddr;
    assert_eq!(env(&[]).unwrap().metrics, None);
    let metrics = |v: &str| env(&[("MASTER_PROCESS_METRICS", v)]).map(|c| c.metrics);
    assert_eq!(metrics("off"), Ok(None));
    assert_eq!(
        metrics("9100"),
        Ok(Some(MetricsAddr::Tcp("0.0.0.0:9100".parse().unwrap())))
    );
    assert_eq!(
        metrics("127.0.0.1:0"),
        Ok(Some(MetricsAddr::Tcp("127.0.0.1:0".parse().unwrap())))
    );
    assert_eq!(
        metrics("[::1]:9100"),
        Ok(Some(MetricsAddr::Tcp("[::1]:9100".parse().unwrap())))
    );
    assert_eq!(
        metrics("/run/app/metrics.sock"),
        Ok(Some(MetricsAddr::Unix("/run/app/metrics.sock".into())))
    );
}

#[test]
fn a_bad_metrics_value_names_the_variable_the_value_and_the_accepted_forms() {
    for value in ["lots", "70000", "localhost:9100", "relative.sock", "/run/"] {
        let e = env(&[("MASTER_PROCESS_METRICS", value)]).unwrap_err();
        assert_eq!(e.name, "MASTER_PROCESS_METRICS");
        assert_eq!(e.value, value);
        assert!(e.accepted.contains("host:port"), "{e}");
    }
}

#[test]
fn shutdown_delay_is_zero_by_default_and_a_duration_up_to_an_hour() {
    assert_eq!(env(&[]).unwrap().policy.shutdown_delay, Duration::ZERO);
    let delay = |v: &str| env(&[("MASTER_PROCESS_SHUTDOWN_DELAY", v)]);
    assert_eq!(
        delay("5s").unwrap().policy.shutdown_delay,
        Duration::from_secs(5)
    );
    let e = delay("2h").unwrap_err();
    assert_eq!(
        (e.name.as_str(), e.value.as_str()),
        ("MASTER_PROCESS_SHUTDOWN_DELAY", "2h")
    );
}

#[test]
fn log_format_is_text_by_default_or_json() {
    use super::LogFormat;
    assert_eq!(env(&[]).unwrap().log_format, LogFormat::Text);
    let format = |v: &str| env(&[("MASTER_PROCESS_LOG_FORMAT", v)]);
    assert_eq!(format("JSON").unwrap().log_format, LogFormat::Json);
    let e = format("yaml").unwrap_err();
    assert_eq!(e.name, "MASTER_PROCESS_LOG_FORMAT");
    assert!(e.accepted.contains("json"), "{e}");
}
