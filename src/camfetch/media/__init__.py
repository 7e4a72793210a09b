"""Pictures and video: JPEG checks, ffmpeg, MP4 inspection, clip export."""
