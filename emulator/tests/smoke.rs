//! The emulator starts, prints one ready line per endpoint, answers CORS preflights, and refuses
//! bad flags with one clear line.

mod common;

use common::{Emulator, temp_data_dir};

#[tokio::test]
async fn starts_and_answers_preflights_on_every_service() {
    let emu = Emulator::fresh("smoke", &[]);
    let client = reqwest::Client::new();
    for base in [&emu.wcs, &emu.ufile, &emu.wantu] {
        let r = client
            .request(reqwest::Method::OPTIONS, format!("{base}/any/path"))
            .header("Origin", "http://page.example")
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "authorization, content-md5")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["access-control-allow-origin"], "http://page.example");
        assert_eq!(r.headers()["access-control-allow-headers"], "authorization, content-md5");
    }
}

#[test]
fn bad_flags_are_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yunup-emulator"))
        .args(["--credential", "nocolon", "--data", temp_data_dir("flags").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("AK:SK"), "{err}");
}
