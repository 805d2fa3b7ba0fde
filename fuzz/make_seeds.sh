#!/usr/bin/env bash
# Regenerates the seed corpora fuzz/corpus/<target>/: tiny valid files of every variant the
# decoders handle (ImageMagick's convert, plus a few byte-level edits in Python for what convert
# cannot write: EXIF blocks, a top-down BMP, a WebP with an EXIF chunk), and a few texts for the
# parsers. Deterministic enough to commit the output; run it only to change the seeds.
set -euo pipefail
cd "$(dirname "$0")"
command -v convert >/dev/null || { echo "make_seeds.sh: needs ImageMagick's convert" >&2; exit 1; }

C=corpus
rm -rf "$C"
mkdir -p "$C"/{decode_jpeg,decode_png,decode_webp,decode_tiff,decode_gif,decode_bmp,decode_image,probe,exif}
mkdir -p "$C"/{multipart,query,process_params,share_record,warmer_counts,warmer_logs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A 6x4 picture with distinct colours, and one with a transparent half.
convert -size 6x4 gradient:red-blue "$tmp/rgb.ppm"
convert -size 6x4 gradient:red-blue \( -size 3x4 xc:white -size 3x4 xc:black +append \) \
  -alpha off -compose copy_opacity -composite "$tmp/rgba.png"
# convert with -strip before the output (the last argument): no timestamps or comments.
strip() { convert "${@:1:$#-1}" -strip "${@: -1}"; }

# JPEG: baseline 4:2:0, progressive, 4:4:4, grey, CMYK (Adobe); EXIF orientation added below.
J=$C/decode_jpeg
strip "$tmp/rgb.ppm" -quality 50 "$J/baseline.jpg"
strip "$tmp/rgb.ppm" -quality 50 -interlace JPEG "$J/progressive.jpg"
strip "$tmp/rgb.ppm" -quality 50 -sampling-factor 1x1 "$J/444.jpg"
strip "$tmp/rgb.ppm" -quality 50 -colorspace Gray "$J/grey.jpg"
strip "$tmp/rgb.ppm" -quality 50 -colorspace CMYK "$J/cmyk.jpg"

# PNG: RGB, RGBA, palette + tRNS, 1-bit grey, 16-bit, grey + alpha, Adam7; eXIf added below.
P=$C/decode_png
strip "$tmp/rgb.ppm" "PNG24:$P/rgb.png"
strip "$tmp/rgba.png" "PNG32:$P/rgba.png"
strip "$tmp/rgba.png" -colors 4 "PNG8:$P/palette_trns.png"
strip "$tmp/rgb.ppm" -monochrome "$P/grey1.png"
strip "$tmp/rgb.ppm" -depth 16 "PNG48:$P/rgb16.png"
strip "$tmp/rgba.png" -colorspace Gray -define png:color-type=4 "$P/grey_alpha.png"
strip "$tmp/rgb.ppm" -interlace PNG "PNG24:$P/interlaced.png"

# WebP: lossy, lossless, lossy with alpha; an animation and EXIF added below (convert writes
# neither).
W=$C/decode_webp
strip "$tmp/rgb.ppm" -quality 50 "$W/lossy.webp"
strip "$tmp/rgb.ppm" -define webp:lossless=true "$W/lossless.webp"
strip "$tmp/rgba.png" -quality 50 "$W/lossy_alpha.webp"
strip -size 2x2 xc:'rgba(0,255,0,0.5)' -define webp:lossless=true "$tmp/frame2.webp"

# TIFF: plain, LZW, deflate, RGBA, palette, 1-bit, orientation 6, tiled, JPEG, 16-bit big-endian,
# planar.
T=$C/decode_tiff
strip "$tmp/rgb.ppm" -compress none "$T/rgb.tif"
strip "$tmp/rgb.ppm" -compress lzw "$T/lzw.tif"
strip "$tmp/rgb.ppm" -compress zip "$T/deflate.tif"
strip "$tmp/rgba.png" -compress none "$T/rgba.tif"
strip "$tmp/rgb.ppm" -colors 4 -type Palette -compress none "$T/palette.tif"
strip "$tmp/rgb.ppm" -monochrome -compress none "$T/bilevel.tif"
strip "$tmp/rgb.ppm" -orient RightTop -compress none "$T/orient6.tif"
strip "$tmp/rgb.ppm" -define tiff:tile-geometry=16x16 -compress none "$T/tiled.tif"
strip "$tmp/rgb.ppm" -compress jpeg -quality 50 "$T/jpeg.tif"
strip "$tmp/rgb.ppm" -depth 16 -endian MSB -compress none "$T/rgb16_be.tif"
strip "$tmp/rgb.ppm" -interlace plane -compress none "$T/planar.tif"

# GIF: plain, transparent, interlaced, a two-frame animation with an offset frame.
G=$C/decode_gif
strip "$tmp/rgb.ppm" -colors 8 "$G/plain.gif"
strip "$tmp/rgba.png" -colors 8 "$G/transparent.gif"
strip "$tmp/rgb.ppm" -colors 8 -interlace GIF "$G/interlaced.gif"
convert -strip "$tmp/rgb.ppm" \( "$tmp/rgb.ppm" -crop 3x2+1+1 \) -colors 8 "$G/animated.gif"

# BMP: 24-bit, 32-bit with alpha (V5 bit fields), 8/4/1-bit palettes, RLE8, RLE4, 16-bit 5-6-5,
# OS/2 core header (BMP2); top-down added below.
B=$C/decode_bmp
strip "$tmp/rgb.ppm" "BMP3:$B/rgb24.bmp"
strip "$tmp/rgba.png" "BMP:$B/rgba32.bmp"
strip "$tmp/rgb.ppm" -colors 200 -type Palette "BMP3:$B/palette8.bmp"
strip "$tmp/rgb.ppm" -colors 16 -type Palette "BMP3:$B/palette4.bmp"
strip "$tmp/rgb.ppm" -monochrome -type Bilevel "BMP3:$B/palette1.bmp"
# ImageMagick 6 writes RLE8 runs over the row padding (8 pixels for a 6-pixel row), which the
# decoder refuses; kept as a seed of that error path. Valid RLE8 and RLE4 files are written below.
strip "$tmp/rgb.ppm" -colors 200 -type Palette -compress RLE "BMP3:$B/rle8_imagemagick_padded.bmp"
strip "$tmp/rgb.ppm" -define bmp:subtype=RGB565 "BMP:$B/rgb565.bmp"
strip "$tmp/rgb.ppm" -colors 16 -type Palette "BMP2:$B/os2_core.bmp"

python3 - "$C" "$tmp" <<'EOF'
import struct, sys, zlib, os
C = sys.argv[1]
def tiff_block(big_endian, orientation, as_long=False, extra=()):
    e = '>' if big_endian else '<'
    entries = [(0x0112, 4 if as_long else 3, 1, orientation)] + list(extra)
    out = (b'MM\0*' if big_endian else b'II*\0') + struct.pack(e + 'I', 8) + struct.pack(e + 'H', len(entries))
    for tag, typ, count, value in entries:
        val = struct.pack(e + 'I', value) if typ == 4 else struct.pack(e + 'HH', value, 0)
        out += struct.pack(e + 'HHI', tag, typ, count) + val
    return out + b'\0\0\0\0'
def write(path, data):
    with open(path, 'wb') as f: f.write(data)

# EXIF blocks (exif target): little and big endian, SHORT and LONG, width/height tags, the
# "Exif\0\0" prefix some writers keep.
write(f'{C}/exif/le_orient6', tiff_block(False, 6))
write(f'{C}/exif/be_orient3', tiff_block(True, 3))
write(f'{C}/exif/long_orient8', tiff_block(False, 8, as_long=True))
write(f'{C}/exif/prefixed_size', b'Exif\0\0' + tiff_block(False, 5, extra=[(256, 3, 1, 640), (257, 4, 1, 480)]))

# JPEG with an APP1 EXIF orientation 6, right after SOI.
jpeg = open(f'{C}/decode_jpeg/baseline.jpg', 'rb').read()
app1 = b'Exif\0\0' + tiff_block(False, 6)
write(f'{C}/decode_jpeg/exif_orient6.jpg', jpeg[:2] + b'\xff\xe1' + struct.pack('>H', len(app1) + 2) + app1 + jpeg[2:])

# PNG with an eXIf chunk (orientation 3) before IDAT.
png = open(f'{C}/decode_png/rgb.png', 'rb').read()
body = tiff_block(True, 3)
chunk = struct.pack('>I', len(body)) + b'eXIf' + body + struct.pack('>I', zlib.crc32(b'eXIf' + body))
at = png.index(b'IDAT') - 4
write(f'{C}/decode_png/exif.png', png[:at] + chunk + png[at:])

# WebP: VP8X with the EXIF flag, the lossless bitstream, then an EXIF chunk (orientation 8).
webp = open(f'{C}/decode_webp/lossless.webp', 'rb').read()
vp8l = webp[12:]
w, h = 6, 4
vp8x = b'VP8X' + struct.pack('<I', 10) + bytes([0x08, 0, 0, 0]) + (w - 1).to_bytes(3, 'little') + (h - 1).to_bytes(3, 'little')
exif = tiff_block(False, 8)
exif_chunk = b'EXIF' + struct.pack('<I', len(exif)) + exif + (b'\0' if len(exif) % 2 else b'')
payload = b'WEBP' + vp8x + vp8l + exif_chunk
write(f'{C}/decode_webp/exif.webp', b'RIFF' + struct.pack('<I', len(payload)) + payload)

# RLE8 and RLE4 6x4 BMPs with a run, an absolute run, a delta and end-of-bitmap.
def rle_bmp(bpp, data):
    colours = 1 << bpp
    palette = b''.join(bytes([i * 16 % 256, 255 - i, i * 40 % 256, 0]) for i in range(colours))
    offset = 14 + 40 + len(palette)
    info = struct.pack('<IiiHHIIiiII', 40, 6, 4, 1, bpp, 1 if bpp == 8 else 2, len(data), 2835, 2835, colours, 0)
    return b'BM' + struct.pack('<IHHI', offset + len(data), 0, 0, offset) + info + palette + data
write(f'{C}/decode_bmp/rle8.bmp', rle_bmp(8, bytes([6, 3, 0, 0,  0, 3, 1, 2, 3, 0, 3, 5, 0, 0,
                                                    0, 2, 2, 1,  4, 7, 0, 1])))
write(f'{C}/decode_bmp/rle4.bmp', rle_bmp(4, bytes([6, 0x12, 0, 0,  0, 4, 0x34, 0x56, 2, 0x77, 0, 0,
                                                    0, 2, 2, 1,  4, 0x9a, 0, 1])))

# An animated WebP: the 6x4 lossless frame, then a half-transparent 2x2 frame at (2, 2).
frame2 = open(sys.argv[2] + '/frame2.webp', 'rb').read()[12:]
def anmf(x, y, fw, fh, bitstream):
    body = b''.join(v.to_bytes(3, 'little') for v in (x // 2, y // 2, fw - 1, fh - 1, 100)) + b'\0' + bitstream
    return b'ANMF' + struct.pack('<I', len(body)) + body + (b'\0' if len(body) % 2 else b'')
vp8x_anim = b'VP8X' + struct.pack('<I', 10) + bytes([0x12, 0, 0, 0]) + (w - 1).to_bytes(3, 'little') + (h - 1).to_bytes(3, 'little')
anim = b'ANIM' + struct.pack('<I', 6) + bytes([0, 0, 0, 0, 0, 0])
payload = b'WEBP' + vp8x_anim + anim + anmf(0, 0, 6, 4, vp8l) + anmf(2, 2, 2, 2, frame2)
write(f'{C}/decode_webp/animated.webp', b'RIFF' + struct.pack('<I', len(payload)) + payload)

# A top-down 24-bit BMP: the same rows with a negative height.
bmp = bytearray(open(f'{C}/decode_bmp/rgb24.bmp', 'rb').read())
height = struct.unpack_from('<i', bmp, 22)[0]
struct.pack_into('<i', bmp, 22, -height)
write(f'{C}/decode_bmp/top_down.bmp', bytes(bmp))
EOF

# decode_image and probe: one file of each format (the full path and the header reader).
for f in "$J/baseline.jpg" "$J/exif_orient6.jpg" "$P/rgba.png" "$P/exif.png" "$W/lossy_alpha.webp" \
         "$W/animated.webp" "$T/orient6.tif" "$T/lzw.tif" "$G/transparent.gif" "$B/palette8.bmp" "$B/rgba32.bmp"; do
  cp "$f" "$C/decode_image/"
  cp "$f" "$C/probe/"
done

# multipart: Content-Type line, then the body.
printf '%s\n%s' 'multipart/form-data; boundary=XyZ' \
  $'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ\r\nContent-Disposition: form-data; name="effects"\r\n\r\ncolor,bw\r\n--XyZ--\r\n' \
  >"$C/multipart/image_and_field"
printf '%s\n%s' 'multipart/form-data; charset=utf-8; boundary="quoted boundary"' \
  $'preamble\r\n--quoted boundary\r\ncontent-disposition: form-data; name=format\r\n\r\nwebp\r\n--quoted boundary\r\nContent-Disposition: form-data; name="empty"\r\n\r\n\r\n--quoted boundary--' \
  >"$C/multipart/quoted_preamble_empty"
printf '%s\n%s' 'multipart/form-data; boundary=b' $'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nno end' \
  >"$C/multipart/unterminated"

# query strings and header values.
printf '%s' 'effects=color,bw&format=png&background=%23ffffff&max_side=512' >"$C/query/process"
printf '%s' 'a=1&b=x+y&c&&=skip&a=2&%zz=%4&%41%42=%e2%9c%93' >"$C/query/edge_cases"
printf '%s' 'multipart/form-data; boundary="xyz"; name=abc' >"$C/query/header_value"

# process parameters: one per line (name=value query, +name=value form, Accept:value).
printf '%s\n' effects=color,bw format=webp 'background=#ff00ffcc' max_side=512 crop=subject margin=10 \
  mask=true stream=false >"$C/process_params/query_all"
printf '%s\n' +effects=popart +popart_palette=electric +popart_grid=2x2 +popart_background=transparent \
  response=image >"$C/process_params/form_popart"
printf '%s\n' 'Accept:image/png' effects=bw bw_strength=1.5 format=jpeg background=white >"$C/process_params/accept_bw"
printf '%s\n' effects=dither dither_method=atkinson stream=true unknown=1 >"$C/process_params/unknown"

# share records: a valid one, one cut short.
hdr='{"content_type":"image/png","data_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","expires_at":1764190981,"size":4,"token_sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}'
printf 'cutout-share 1\n%s\n%s' "$hdr" 'test' >"$C/share_record/valid"
printf 'cutout-share 1\n%s\n%s' "$hdr" 'te' >"$C/share_record/short"

# warmer counts (and, on the first line, parse_time / parse_duration_s inputs).
printf '%s\n' time,requests 2026-11-26T20:43:00Z,3 '2026-11-26T20:44:30.25+01:00, 1' 1764190981,2 >"$C/warmer_counts/counts"
printf '%s\n' '1h30m' time,requests >"$C/warmer_counts/duration"
printf '%s\n' '2026-11-26t20:43:01.5-05:30' >"$C/warmer_counts/time"

# warmer logs: the service's JSON lines, and a Cloud Logging export.
printf '%s\n' \
  '{"severity":"INFO","message":"POST /api/v2/process 200","time":"2026-11-02T00:00:10.5Z","endpoint":"/api/v2/process","httpRequest":{"latency":"1.5s","status":200}}' \
  '{"severity":"INFO","message":"model ready","time":"2026-11-02T00:00:11Z"}' >"$C/warmer_logs/lines"
printf '%s' '[{"jsonPayload":{"endpoint":"/api/v2/process"},"timestamp":"2026-11-02T00:01:00Z","httpRequest":{"latency":"0.5s"}},{"jsonPayload":{"endpoint":"/readyz"},"timestamp":"2026-11-02T00:01:00Z"}]' \
  >"$C/warmer_logs/export"

du -sh "$C"
