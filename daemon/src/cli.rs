//! The command line. Exit codes: 0 success, 1 failure, 2 usage (clap's own).

use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd::play::{DevicesArgs, PlayArgs};

#[derive(Debug, Parser)]
#[command(
    name = "loa",
    version,
    about = "Loa: the broadcast scheduler of a commune loudspeaker radio station",
    long_about = "Loa airs a commune radio station's schedule on time: local news, relays of \
the national and provincial stations, notices read by text-to-speech, and emergency \
announcements, and keeps the airtime log for the monthly report.\n\n\
The configuration directory (default /etc/loa, or $LOA_CONFIG) holds station.yaml and \
schedules/*.yaml.",
    after_help = "Examples:\n  loa check                      validate /etc/loa after editing it\n  \
loa agenda --date 2026-12-01   what will air that day\n  \
loa status                     what airs now, zones, boards, links\n  \
loa now --text \"Thông báo...\"  read a notice aloud now (loa stop ends it)\n  \
loa report --format html --out so-nhat-ky.html\n  \
loa doctor                     is this PC ready to air?\n\n\
`loa help COMMAND` shows each command's options and examples. Guides: /usr/share/doc/loa/."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: air the schedule on time (foreground; systemd Type=notify).
    #[command(
        after_help = "Reloads on SIGHUP and when a file under the configuration directory changes;\n\
a configuration with errors is refused and the last good one stays on air.\n\
Stops on SIGTERM/SIGINT: fades out and closes the airtime rows.\n\n\
Examples:\n  loa run\n  loa run --config schedules/examples/au-lau --output main=wav:/tmp/loa.wav"
    )]
    Run(crate::runtime::run::RunArgs),
    /// Validate the configuration: every problem as FILE:LINE:COLUMN: message.
    #[command(
        after_help = "Exit status: 0 valid (warnings allowed), 1 errors, 2 usage.\n\
With --online, a relay source that does not answer is a warning, not an error: the relay airs\n\
its other sources or its fallback meanwhile.\n\n\
Examples:\n  loa check\n  loa check --online              also fetch each relay source once (needs the network)\n  \
loa check --config schedules/examples/au-lau --format json"
    )]
    Check(CheckArgs),
    /// What will air when, after priorities, waits, hard ends and quiet hours.
    #[command(
        after_help = "Times are in the station's time zone. Without --date or --from/--to: today.\n\n\
--exclude leaves programs out before priorities are applied (the plan as if they were not\n\
there); --program shows only these programs, as they will air beside all the others.\n\n\
Examples:\n  loa agenda\n  loa agenda --date 2026-12-01\n  loa agenda --from 2026-12-01 --to 2026-12-08 --format json\n  \
loa agenda --exclude phat-thu-moi-phut       the day without a test program\n  \
loa agenda --program vov1-sang,thoi-su-xa --date 2026-12-07"
    )]
    Agenda(AgendaArgs),
    /// JSON Schema of station.yaml and the schedule files, for editors.
    #[command(
        after_help = "Examples:\n  loa schema --kind schedule > /etc/loa/schedule.schema.json\n\n\
Then, first line of a schedule file:\n  # yaml-language-server: $schema=schedule.schema.json"
    )]
    Schema(SchemaArgs),
    /// Sound check: play files on an output.
    #[command(
        after_help = "Examples:\n  loa play /var/lib/loa/media/ident/nhac-hieu.mp3\n  loa play --output wav:/tmp/test.wav a.mp3 b.ogg"
    )]
    Play(PlayArgs),
    /// Read a text aloud as the station would: numbers, dates and
    /// abbreviations written out, the station's voice and loudness.
    #[command(
        after_help = "Examples:\n  loa say --show \"UBND xã thông báo: họp lúc 7h30 ngày 20/3 tại nhà văn hóa thôn 2\"\n  \
loa say --voice vi-vn-x-south --rate 130 \"Kính thưa bà con\"\n  \
loa say --out /tmp/thong-bao.wav \"Mưa lớn 100-150mm từ đêm nay\""
    )]
    Say(crate::cmd::say::SayArgs),
    /// Audio output and input devices, with the names `device:` accepts.
    #[command(
        after_help = "Outputs go in station.yaml as `device:NAME`; inputs are what `live:` items and\n\
`loa now --live INPUT` capture from. `default` is the system's default device.\n\n\
Examples:\n  loa devices\n  loa devices --format json"
    )]
    Devices(DevicesArgs),
    /// The real scheduler on a virtual clock, as fast as possible: preview a month's log.
    #[command(
        after_help = "Rows go to --db (default ./simulate.sqlite), never to the live log.\n\n\
Examples:\n  loa simulate --from 2026-12-01 --days 31\n  loa report --db simulate.sqlite --from 2026-12-01 --to 2026-12-31 --format html --out so-nhat-ky.html"
    )]
    Simulate(crate::cmd::simulate::SimulateArgs),
    /// The station's relays and LED boards, simulated on its broker: each
    /// answers as its firmware does, one line per switch and per text shown.
    #[command(
        after_help = "For trying a station without its devices (the demo, `make run`, runs it): relays of the\n\
tasmota, shelly and esphome presets switch, report and keep their own off timer; boards show\n\
what Loa sends them. Custom relays are not simulated. Plain MQTT only (mqtt.url without TLS or\n\
password). Never against a station's real broker: its real devices would hear it too.\n\n\
Examples:\n  loa simulate-devices --config target/demo-station\n  \
loa run --config DIR & loa simulate-devices --config DIR"
    )]
    SimulateDevices(crate::cmd::simulate_devices::SimulateDevicesArgs),
    /// The airtime report and the monthly log book (sổ nhật ký chương trình).
    #[command(
        after_help = "Without --from/--to: the previous month. Dates are in the station's time zone, both\n\
ends included. Reads the live log (paths.state/airtime.sqlite) read-only; --db reads\n\
another, e.g. the one `loa simulate` wrote.\n\n\
Examples:\n  loa report\n  loa report --from 2026-11-01 --to 2026-11-30 --by program\n  \
loa report --format html --lang vi --out so-nhat-ky-thang-11.html\n  \
loa report --format csv --by day --out thang-11.csv"
    )]
    Report(crate::cmd::report::ReportArgs),
    /// The province's collector: every station's airtime rows and status from the broker into PostgreSQL.
    #[command(
        after_help = "Subscribes with a persistent session at QoS 1 to ROOT/+/airtime and ROOT/+/status\n\
(mqtt.shared: as $share/collect/..., for collectors side by side) and writes the district\n\
book that `loa report --db postgres://...` reads. A message is acknowledged once stored.\n\n\
Example /etc/loa/collect.yaml:\n  mqtt: { url: mqtts://broker.tinh.example:8883, username: collect,\n          \
password_file: /etc/loa/collect-mqtt.pass, ca_file: /etc/loa/ca.pem }\n  \
database: postgres://loa@db.tinh.example:5432/loa\n  database_password_file: /etc/loa/collect-db.pass\n  \
stations: [quang-]        # optional: station id prefixes to take\n  silent_after_minutes: 60\n\n\
Examples:\n  loa collect\n  loa collect --config /etc/loa/collect.yaml\n  \
systemctl enable --now loa-collect   the service the .deb installs"
    )]
    Collect(crate::cmd::collect::CollectArgs),
    /// New Ed25519 key for signed announcements: the private key to FILE, the public key line printed.
    #[command(
        after_help = "The private key (PKCS#8 PEM, mode 0600) stays with the sender; paste the printed\n\
public_key line into station.yaml under remote: keys: <kid>: on every station it may command.\n\n\
Examples:\n  loa keygen --out ~/.config/loa/chu-tich-xa.pem"
    )]
    Keygen(crate::cmd::keys::KeygenArgs),
    /// Sign an announcement and send it over MQTT to the station (or a group).
    #[command(
        after_help = "The key id is the key file's name without extension unless --kid names it.\n\
With --wait: prints each ack; exit 0 when done, 1 when rejected, failed or timed out.\n\n\
Examples:\n  loa announce --key chu-tich-xa.pem --text \"Bão số 3 sắp đổ bộ\" --priority emergency --wait\n  \
loa announce --key van-hoa.pem --file news/hop-dan.mp3 --zones thon-1,thon-2 --repeat 2\n  \
loa announce --key chu-tich-xa.pem --group tuyen-hoa --stream https://radio.example/vov1 --duration 15m"
    )]
    Announce(crate::cmd::keys::AnnounceArgs),
    /// Is this PC ready to air? Audio devices, media files, relay sources, broker login, clock sync, state directory, disk space.
    #[command(
        after_help = "Each check prints one line: ok, warn or fail, what was checked, and what to do.\n\
Nothing is changed: the airtime log is opened read-only and a running daemon keeps its broker session.\n\
Each relay source is fetched once, as `loa check --online` does: a dead one warns (the relay airs\n\
its other sources or its fallback meanwhile).\n\
Run it as the service's user to test its permissions. Exit status: 0 when nothing fails, 1 otherwise.\n\n\
Examples:\n  sudo -u loa loa doctor\n  loa doctor --config schedules/examples/au-lau"
    )]
    Doctor(crate::cmd::doctor::DoctorArgs),
    /// Air something now from this PC: a text read aloud, a recording, or the microphone.
    #[command(
        after_help = "Goes through the running daemon (its control socket; you must be root or in group loa):
the chime, the zones switched on (after their preroll), then the item, preempting lower
levels (and the same level: you asked for it now). Rows: trigger cli, requested_by your user.
A live session stays on the air until `loa stop`, at most policy.live_limit (default 30 min).
Exit status: 0 accepted, 1 refused or no daemon, 2 usage.

Examples:
  loa now --text \"Mời bà con thôn 2 đến nhà văn hoá họp lúc 19 giờ\" --zones thon-2
  loa now --file thong-bao/tiem-phong.mp3 --repeat 2
  loa now --live --priority emergency          (speak into the default microphone)
  loa now --live hw:1,0 --zones thon-1,cho --title \"Chủ tịch xã phát biểu\"
  loa stop                                      (end it)"
    )]
    Now(crate::cmd::control::NowArgs),
    /// Stop an announcement or live session; `all` also cuts the scheduled program.
    #[command(
        after_help = "Without an argument: every announcement and live session (the schedule goes on).
With an id (`loa status` lists them): that one. With `all`: whatever airs now, the scheduled
program included; its rows say who stopped it. Everything fades out.

Examples:
  loa stop
  loa stop cli-20261125-101500-3fa2
  loa stop all"
    )]
    Stop(crate::cmd::control::StopArgs),
    /// What airs and since when, what is next, zones, boards, MQTT link, audio outputs, last reload.
    #[command(
        after_help = "--format json prints the same document as the retained MQTT status topic.

Examples:
  loa status
  loa status --format json | jq .zones"
    )]
    Status(crate::cmd::control::StatusArgs),
    /// An IP cluster receiver: plays the Icecast mount the station tells it to, over MQTT.
    #[command(
        after_help = "Obeys loa-rx/ID/cmd and keeps its state, retained, on loa-rx/ID/state (Last Will:\n\
offline); the station's zone names it with `receiver: ID` (SPEC 7d). Reconnects to the broker\n\
and the stream on its own; keeps --buffer seconds ahead of the output and drops older audio.\n\n\
Examples:\n  loa receive --mqtt mqtt://10.0.0.2 --id cum-3\n  \
loa receive --mqtt mqtt://10.0.0.2:1883 --id cum-3 --output device:plughw:CARD=Device,DEV=0 --buffer 3"
    )]
    Receive(crate::cmd::receive::ReceiveArgs),
    /// Write the manual pages (loa.1, loa-run.1, ...) into a directory: scripts/build-deb packs them.
    #[command(hide = true)]
    Manpages(crate::cmd::manpages::ManpagesArgs),
}

/// `--config DIR`, shared by the commands that read a configuration.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration directory holding station.yaml and schedules/.
    #[arg(
        long,
        value_name = "DIR",
        env = "LOA_CONFIG",
        default_value = "/etc/loa"
    )]
    pub config: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Also fetch each relay source once: reachable or not, HLS or Icecast,
    /// codec, bitrate, segment length, time to first audio.
    #[arg(long)]
    pub online: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct AgendaArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One day, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "D", conflicts_with_all = ["from", "to"], value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Start, YYYY-MM-DD[THH:MM[:SS]], inclusive.
    #[arg(long, value_name = "T", requires = "to", value_parser = parse_point)]
    pub from: Option<Point>,
    /// End, YYYY-MM-DD[THH:MM[:SS]], exclusive (a bare date means the end of that day).
    #[arg(long, value_name = "T", requires = "from", value_parser = parse_point)]
    pub to: Option<Point>,
    /// Leave these programs out (ids, comma-separated): the agenda as if
    /// they were not scheduled.
    #[arg(long, value_name = "ID,..", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Show only these programs (ids, comma-separated), as they will air
    /// beside the others.
    #[arg(long, value_name = "ID,..", value_delimiter = ',')]
    pub program: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Station,
    Schedule,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which file kind (both: an object with `station` and `schedule`).
    #[arg(long, value_enum, default_value_t = SchemaKind::Both)]
    pub kind: SchemaKind,
}

/// D: `YYYY-MM-DD` in the station's time zone.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("`{s}` is not a date; write YYYY-MM-DD, e.g. 2026-12-01"))
}

/// T: `YYYY-MM-DD[THH:MM[:SS]]` in the station's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    Date(NaiveDate),
    Time(NaiveDateTime),
}

pub fn parse_point(s: &str) -> Result<Point, String> {
    if s.len() == 10 {
        return parse_date(s).map(Point::Date);
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map(Point::Time)
        .map_err(|_| format!("`{s}` is not a time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"))
}
