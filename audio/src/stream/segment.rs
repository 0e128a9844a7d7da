//! HLS segments to engine-format audio: MPEG-TS (ADTS AAC or MPEG audio, by
//! mpeg2ts-reader), fMP4/CMAF (symphonia's ISO MP4 reader over the init
//! segment and the fragment), and packed audio (.aac, .mp3 with their ID3
//! timestamp tag). One decoder lives across segments, so that the AAC
//! overlap carries from one segment into the next and segment boundaries
//! are seamless; it is made anew only when the codec or its format changes.

use std::io::Cursor;

use mpeg2ts_reader::demultiplex::{self, DemuxContext};
use mpeg2ts_reader::{packet, packet_filter_switch, pes, psi, StreamType};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecParameters, Decoder, CODEC_TYPE_AAC, CODEC_TYPE_MP3};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatReader;
use symphonia::core::io::MediaSourceStream;

use crate::format::RATE;
use crate::resample::{to_stereo, Resampler};

/// What a segment turned out to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Ts,
    Fmp4,
    PackedAac,
    PackedMp3,
}

/// The codec and format of the audio decoded last, for `loa check --online`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AudioInfo {
    pub codec: &'static str,
    pub sample_rate: u32,
    pub channels: u16,
}

/// Decodes segment after segment into 48 kHz stereo.
pub(crate) struct SegmentDecoder {
    decoder: Option<(Box<dyn Decoder>, CodecKey)>,
    resampler: Option<(u32, Resampler)>,
    stereo: Vec<f32>,
    pub info: Option<AudioInfo>,
}

/// A decoder is reused while this stays the same.
#[derive(Debug, Clone, PartialEq)]
struct CodecKey {
    codec: symphonia::core::codecs::CodecType,
    rate: Option<u32>,
    channels: Option<usize>,
    extra: Option<Box<[u8]>>,
}

impl CodecKey {
    fn of(p: &CodecParameters) -> CodecKey {
        CodecKey {
            codec: p.codec,
            rate: p.sample_rate,
            channels: p.channels.map(|c| c.count()),
            extra: p.extra_data.clone(),
        }
    }
}

impl SegmentDecoder {
    pub fn new() -> Self {
        SegmentDecoder {
            decoder: None,
            resampler: None,
            stereo: Vec::new(),
            info: None,
        }
    }

    /// Forgets the decoder (after a discontinuity whose codec may differ).
    pub fn reset(&mut self) {
        self.decoder = None;
    }

    /// Decodes one segment (`init`: the fMP4 initialisation segment) and
    /// appends its audio, 48 kHz interleaved stereo, to `out`.
    /// A panic of the demultiplexer or decoder on the segment is its error
    /// (the decoder is then forgotten: its state is unknown).
    pub fn decode(
        &mut self,
        data: &[u8],
        init: Option<&[u8]>,
        out: &mut Vec<f32>,
    ) -> Result<Container, String> {
        let mut panicked = false;
        let r = crate::contain::contained(
            || self.decode_inner(data, init, out),
            |why| {
                panicked = true;
                format!("the decoder failed on the segment ({why})")
            },
        );
        if panicked {
            self.reset();
        }
        r
    }

    fn decode_inner(
        &mut self,
        data: &[u8],
        init: Option<&[u8]>,
        out: &mut Vec<f32>,
    ) -> Result<Container, String> {
        let (container, bytes) = classify(data, init)?;
        let mut reader: Box<dyn FormatReader> = match container {
            Container::Ts => {
                let (es, kind) = demux_ts(&bytes)?;
                es_reader(es, kind)?
            }
            Container::PackedAac => es_reader(bytes, Container::PackedAac)?,
            Container::PackedMp3 => es_reader(bytes, Container::PackedMp3)?,
            Container::Fmp4 => {
                // Tables that claim more than the segment holds would be
                // allocated by the reader (crate::claims).
                crate::claims::check_fmp4(&bytes)?;
                let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
                Box::new(
                    symphonia::default::formats::IsoMp4Reader::try_new(mss, &Default::default())
                        .map_err(|e| format!("cannot read the fMP4 segment: {e}"))?,
                )
            }
        };
        let track = reader
            .tracks()
            .iter()
            .find(|t| {
                t.codec_params.codec == CODEC_TYPE_AAC || t.codec_params.codec == CODEC_TYPE_MP3
            })
            .ok_or("the segment has no AAC or MP3 audio track")?
            .clone();
        let key = CodecKey::of(&track.codec_params);
        if self
            .decoder
            .as_ref()
            .map(|(_, k)| k != &key)
            .unwrap_or(true)
        {
            let d = symphonia::default::get_codecs()
                .make(&track.codec_params, &Default::default())
                .map_err(|e| format!("unsupported codec in the segment: {e}"))?;
            self.decoder = Some((d, key));
        }
        let (decoder, _) = self.decoder.as_mut().expect("a decoder");
        let mut bad = 0;
        loop {
            let packet = match reader.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    break
                }
                Err(SymphoniaError::ResetRequired) => break,
                Err(e) => return Err(format!("cannot read the segment: {e}")),
            };
            if packet.track_id() != track.id {
                continue;
            }
            let decoded = match decoder.decode(&packet) {
                Ok(d) => d,
                // A damaged frame costs its 20 ms, not the segment.
                Err(SymphoniaError::DecodeError(_)) if bad < 10 => {
                    bad += 1;
                    continue;
                }
                Err(e) => return Err(format!("cannot decode the segment: {e}")),
            };
            let spec = *decoded.spec();
            if decoded.frames() == 0 {
                continue;
            }
            self.info = Some(AudioInfo {
                codec: if track.codec_params.codec == CODEC_TYPE_AAC {
                    "AAC"
                } else {
                    "MP3"
                },
                sample_rate: spec.rate,
                channels: spec.channels.count() as u16,
            });
            let mut sb = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
            sb.copy_interleaved_ref(decoded);
            self.stereo.clear();
            to_stereo(sb.samples(), spec.channels.count().max(1), &mut self.stereo);
            let rate = if spec.rate == 0 { RATE } else { spec.rate };
            if self
                .resampler
                .as_ref()
                .map(|(r, _)| *r != rate)
                .unwrap_or(true)
            {
                self.resampler = Some((rate, Resampler::new(rate)));
            }
            let (_, resampler) = self.resampler.as_mut().expect("a resampler");
            resampler.process(&self.stereo, out);
        }
        Ok(container)
    }
}

/// Tells the container from the bytes (servers' content types and file
/// names are not reliable) and removes a packed segment's ID3 tag.
fn classify(data: &[u8], init: Option<&[u8]>) -> Result<(Container, Vec<u8>), String> {
    if let Some(init) = init {
        let mut all = Vec::with_capacity(init.len() + data.len());
        all.extend_from_slice(init);
        all.extend_from_slice(data);
        return Ok((Container::Fmp4, all));
    }
    if data.len() >= 189 && data[0] == 0x47 && data[188] == 0x47 {
        return Ok((Container::Ts, data.to_vec()));
    }
    if data.len() >= 8 && matches!(&data[4..8], b"ftyp" | b"styp" | b"moof" | b"moov") {
        return Ok((Container::Fmp4, data.to_vec()));
    }
    let body = skip_id3(data);
    match body {
        [0xFF, b, ..] if b & 0xF6 == 0xF0 => Ok((Container::PackedAac, body.to_vec())),
        [0xFF, b, ..] if b & 0xE0 == 0xE0 => Ok((Container::PackedMp3, body.to_vec())),
        [] => Err("the segment is empty".into()),
        _ => Err("the segment is neither MPEG-TS, fMP4, AAC nor MP3".into()),
    }
}

/// A packed-audio segment begins with an ID3v2 tag (its timestamp).
fn skip_id3(mut data: &[u8]) -> &[u8] {
    while data.len() >= 10 && &data[..3] == b"ID3" {
        let size = data[6..10]
            .iter()
            .fold(0usize, |n, b| (n << 7) | (*b as usize & 0x7F));
        let footer = if data[5] & 0x10 != 0 { 10 } else { 0 };
        let end = (10 + size + footer).min(data.len());
        data = &data[end..];
    }
    data
}

fn es_reader(es: Vec<u8>, kind: Container) -> Result<Box<dyn FormatReader>, String> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(es)), Default::default());
    Ok(match kind {
        Container::PackedMp3 => Box::new(
            symphonia::default::formats::MpaReader::try_new(mss, &Default::default())
                .map_err(|e| format!("cannot read the MP3 audio: {e}"))?,
        ),
        _ => Box::new(
            symphonia::default::formats::AdtsReader::try_new(mss, &Default::default())
                .map_err(|e| format!("cannot read the AAC audio: {e}"))?,
        ),
    })
}

packet_filter_switch! {
    AudioFilterSwitch<AudioDemux> {
        Pes: pes::PesPacketFilter<AudioDemux, AudioStream>,
        Pat: demultiplex::PatPacketFilter<AudioDemux>,
        Pmt: demultiplex::PmtPacketFilter<AudioDemux>,
        Null: demultiplex::NullPacketFilter<AudioDemux>,
    }
}

/// The demultiplexer's context (written out rather than by the crate's
/// `demux_context!`, which allows no fields of our own): it keeps the first
/// audio stream's payload.
pub struct AudioDemux {
    changeset: demultiplex::FilterChangeset<AudioFilterSwitch>,
    pid: Option<packet::Pid>,
    kind: Option<Container>,
    es: Vec<u8>,
}

impl DemuxContext for AudioDemux {
    type F = AudioFilterSwitch;

    fn filter_changeset(&mut self) -> &mut demultiplex::FilterChangeset<AudioFilterSwitch> {
        &mut self.changeset
    }

    fn construct(&mut self, req: demultiplex::FilterRequest<'_, '_>) -> AudioFilterSwitch {
        match req {
            demultiplex::FilterRequest::ByPid(psi::pat::PAT_PID) => {
                AudioFilterSwitch::Pat(demultiplex::PatPacketFilter::default())
            }
            demultiplex::FilterRequest::Pmt {
                pid,
                program_number,
            } => AudioFilterSwitch::Pmt(demultiplex::PmtPacketFilter::new(pid, program_number)),
            demultiplex::FilterRequest::ByStream {
                stream_type,
                stream_info,
                ..
            } => {
                let kind = match stream_type {
                    StreamType::ADTS => Some(Container::PackedAac),
                    StreamType::ISO_11172_AUDIO | StreamType::ISO_138183_AUDIO => {
                        Some(Container::PackedMp3)
                    }
                    _ => None,
                };
                let pid = stream_info.elementary_pid();
                let take = match (kind, self.pid) {
                    // The programme's first audio stream airs.
                    (Some(k), None) => {
                        self.pid = Some(pid);
                        self.kind = Some(k);
                        true
                    }
                    (Some(_), Some(p)) => p == pid,
                    _ => false,
                };
                if take {
                    AudioFilterSwitch::Pes(pes::PesPacketFilter::new(AudioStream))
                } else {
                    AudioFilterSwitch::Null(demultiplex::NullPacketFilter::default())
                }
            }
            demultiplex::FilterRequest::ByPid(_) | demultiplex::FilterRequest::Nit { .. } => {
                AudioFilterSwitch::Null(demultiplex::NullPacketFilter::default())
            }
        }
    }
}

/// Appends the PES payload of the audio stream to the context's bytes.
pub struct AudioStream;

impl pes::ElementaryStreamConsumer<AudioDemux> for AudioStream {
    fn start_stream(&mut self, _ctx: &mut AudioDemux) {}
    fn begin_packet(&mut self, ctx: &mut AudioDemux, header: pes::PesHeader<'_>) {
        match header.contents() {
            pes::PesContents::Parsed(Some(parsed)) => ctx.es.extend_from_slice(parsed.payload()),
            pes::PesContents::Parsed(None) => {}
            pes::PesContents::Payload(p) => ctx.es.extend_from_slice(p),
        }
    }
    fn continue_packet(&mut self, ctx: &mut AudioDemux, data: &[u8]) {
        ctx.es.extend_from_slice(data);
    }
    fn end_packet(&mut self, _ctx: &mut AudioDemux) {}
    fn continuity_error(&mut self, _ctx: &mut AudioDemux) {}
}

/// The audio elementary stream of a transport-stream segment.
fn demux_ts(data: &[u8]) -> Result<(Vec<u8>, Container), String> {
    let mut ctx = AudioDemux {
        changeset: Default::default(),
        pid: None,
        kind: None,
        es: Vec::with_capacity(data.len()),
    };
    let mut demux = demultiplex::Demultiplex::new(&mut ctx);
    // Whole packets only: a truncated tail would be misread.
    let whole = data.len() / packet::Packet::SIZE * packet::Packet::SIZE;
    demux.push(&mut ctx, &data[..whole]);
    match ctx.kind {
        None => Err("the transport stream carries no AAC or MP3 audio".into()),
        Some(_) if ctx.es.is_empty() => Err("the transport stream's audio is empty".into()),
        Some(kind) => Ok((ctx.es, kind)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_from_their_bytes() {
        let mut ts = vec![0u8; 376];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert_eq!(classify(&ts, None).unwrap().0, Container::Ts);
        let mut id3_aac = b"ID3\x04\x00\x00\x00\x00\x00\x02ab".to_vec();
        id3_aac.extend_from_slice(&[0xFF, 0xF1, 0x50]);
        let (kind, body) = classify(&id3_aac, None).unwrap();
        assert_eq!(kind, Container::PackedAac);
        assert_eq!(body[..2], [0xFF, 0xF1]);
        assert_eq!(
            classify(&[0xFF, 0xFB, 0x90], None).unwrap().0,
            Container::PackedMp3
        );
        assert_eq!(
            classify(b"\0\0\0\x18moof", Some(b"init")).unwrap().0,
            Container::Fmp4
        );
        assert!(classify(b"<html>", None).unwrap_err().contains("neither"));
    }
}
