"""From a plan to video files: ffmpeg runner, probe, template ingest and versions, overlays,
clips, part planning, engines, HLS, thumbnails, captions, chapters and the moviepy reference preview."""
