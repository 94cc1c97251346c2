/*
 * test_subtitles.c: sidecar SubRip and WebVTT files to WebVTT (the awkward
 * cases, and the exact reasons bad files are refused with), and text
 * subtitle streams of MKV and MP4 files made by ffmpeg at test time to
 * WebVTT, compared cue by cue. What we write must be read by ffmpeg's own
 * webvtt demuxer without a word.
 */
#include "test.h"
#include "tmpdir.h"
#include "fixture.h"

#include "base/buf.h"
#include "base/status.h"
#include "media/subtitles.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void
write_file(const char *name, const char *data, size_t len)
{
    FILE *f = fopen(path_of(name), "wb");
    if (f == NULL)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

/* The whole file as a NUL-terminated string (free it), or NULL. */
static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)n + 1)) != NULL) {
        *len = fread(data, 1, (size_t)n, f);
        data[*len] = '\0';
    }
    fclose(f);
    return data;
}

/* The output of a shell command (at most cap - 1 bytes). */
static void
command_output(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = '\0';
    if (p)
        pclose(p);
}

/*
 * What ffmpeg prints when it reads path with its webvtt demuxer and decoder
 * (empty: accepted). A bare `-f null -` maps no subtitle stream and only
 * says "Output file #0 does not contain any stream", hence -map 0 -c:s.
 */
static void
ffmpeg_reading(const char *path, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -i '%s' -map 0 -c:s webvtt -f null - 2>&1", path);
    command_output(cmd, out, cap);
}

/* How many cues ffmpeg's webvtt demuxer finds in path. That demuxer skips
 * what it cannot read without a word, so counting is the real check. */
static int
ffmpeg_cue_count(const char *path)
{
    char cmd[1024], out[64];
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams s -count_packets -show_entries "
             "stream=nb_read_packets -of csv=p=0 '%s' 2>&1",
             path);
    command_output(cmd, out, sizeof(out));
    return (int)strtol(out, NULL, 10);
}

/* Cues in a WebVTT text: its timing lines. */
static int
cue_count(const char *vtt)
{
    int n = 0;
    for (const char *p = vtt; (p = strstr(p, " --> ")) != NULL; p++)
        n++;
    return n;
}

/* Files in the test directory whose name starts with '.' (temporaries). */
static int
hidden_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Converts a string; returns the status, the output in *out (buf_free it). */
static int
convert(const char *in, buf_t *out, char *err, size_t errlen)
{
    buf_init(out, 1 << 26);
    err[0] = '\0';
    return subtitles_convert_buffer(in, strlen(in), out, err, errlen);
}

TEST(srt_awkward_cases_become_clean_webvtt)
{
    /* BOM, CRLF, cue numbers, comma decimals, tags kept (and lower-cased),
     * <font> and {\an8} stripped, coordinates after the times dropped,
     * & < > escaped, cues out of order and overlapping, a cue number with
     * no blank line before it, an empty cue and a zero-length cue dropped,
     * a mixed-in CR-only line end, spaces around a cue number. */
    const char *srt = "\xEF\xBB\xBF"
                      "1\r\n"
                      "00:00:05,000 --> 00:00:07,000\r\n"
                      "<I>Later</I>, <font color=\"#ffff00\">yellow</font> & done\r\n"
                      "\r\n"
                      "2\r\n"
                      "00:00:01,000 --> 00:00:04,000 X1:100 X2:600 Y1:10 Y2:50\r\n"
                      "{\\an8}At the top  \r\n"
                      "  <b>bold</b> <u>under</u> a < b > c\r\n"
                      "3\r\n"
                      "00:00:02,500 --> 00:00:03,000\r\n"
                      "overlaps the one before\r\n"
                      "\r\n"
                      " 4 \r\n"
                      "00:00:08,000 --> 00:00:09,000\r\n"
                      "<font color=red></font>\r\n"
                      "\r\n"
                      "5\r"
                      "00:00:10,000 --> 00:00:10,000\r"
                      "zero length\r"
                      "\r\n"
                      "6\n"
                      "1:02:03.004-->1:02:04,005\n"
                      "hours with one digit, a dot, no spaces\n";
    const char *want = "WEBVTT\n"
                       "\n"
                       "00:00:01.000 --> 00:00:04.000\n"
                       "At the top\n"
                       "<b>bold</b> <u>under</u> a &lt; b &gt; c\n"
                       "\n"
                       "00:00:02.500 --> 00:00:03.000\n"
                       "overlaps the one before\n"
                       "\n"
                       "00:00:05.000 --> 00:00:07.000\n"
                       "<i>Later</i>, yellow &amp; done\n"
                       "\n"
                       "01:02:03.004 --> 01:02:04.005\n"
                       "hours with one digit, a dot, no spaces\n";
    char err[256];
    buf_t out;
    CHECK_INT(convert(srt, &out, err, sizeof(err)), SV_OK);
    CHECK_STR(err, "");
    CHECK_STR(out.data, want);
    buf_free(&out);
}

TEST(vtt_features_are_kept_or_dropped)
{
    /* Header text and header lines dropped; NOTE, STYLE and REGION blocks
     * dropped (libavformat stops reading at them); identifiers kept unless
     * libavformat would take them for a comment; hours filled in; known
     * settings kept, unknown ones and region: dropped; WebVTT tags, entities
     * and timestamps kept; a "-->" line starting the next cue. */
    const char *vtt =
        "WEBVTT - some title\n"
        "Kind: captions\n"
        "\n"
        "NOTE a comment\n"
        "on two lines\n"
        "\n"
        "STYLE\n"
        "::cue(.yellow) { color: yellow }\n"
        "\n"
        "REGION\n"
        "id:r1 width:40%\n"
        "\n"
        "intro\n"
        "00:01.000 --> 00:02.500 align:start position:10% bogus:1 region:r1 line\n"
        "<c.yellow>Hi</c> <v.loud Bob>there</v> &amp; &#233; <00:01.500>later\n"
        "00:00:03.000 --> 00:00:04.000\n"
        "<ruby>漢<rt>kan</rt></ruby> <i.x>it</i> <span>x</span> R&D\n"
        "\n"
        "NOTE\n"
        "\n"
        "NOTEworthy identifier\n"
        "00:00.500 --> 00:00.900 vertical:rl\n"
        "first by time\n";
    const char *want = "WEBVTT\n"
                       "\n"
                       "00:00:00.500 --> 00:00:00.900 vertical:rl\n"
                       "first by time\n"
                       "\n"
                       "intro\n"
                       "00:00:01.000 --> 00:00:02.500 align:start position:10%\n"
                       "<c.yellow>Hi</c> <v.loud Bob>there</v> &amp; &#233; <00:01.500>later\n"
                       "\n"
                       "00:00:03.000 --> 00:00:04.000\n"
                       "<ruby>漢<rt>kan</rt></ruby> <i.x>it</i> x R&amp;D\n";
    char err[256];
    buf_t out, again;
    CHECK_INT(convert(vtt, &out, err, sizeof(err)), SV_OK);
    CHECK_STR(out.data, want);
    /* Our output converts to itself. */
    CHECK_INT(convert(out.data, &again, err, sizeof(err)), SV_OK);
    CHECK_STR(again.data, out.data);
    buf_free(&out);
    buf_free(&again);
}

TEST(header_only_vtt_is_valid_and_empty)
{
    char err[256];
    buf_t out;
    CHECK_INT(convert("WEBVTT\n", &out, err, sizeof(err)), SV_OK);
    CHECK_STR(out.data, "WEBVTT\n");
    buf_free(&out);
    CHECK_INT(convert("\xEF\xBB\xBFWEBVTT\r\n\r\n", &out, err, sizeof(err)), SV_OK);
    CHECK_STR(out.data, "WEBVTT\n");
    buf_free(&out);
}

/* Expects convert(in) to fail with rc and exactly msg. */
static void
check_refused(const char *in, size_t len, int rc, const char *msg)
{
    char err[256] = "";
    buf_t out;
    buf_init(&out, 1 << 26);
    CHECK_INT(subtitles_convert_buffer(in, len, &out, err, sizeof(err)), rc);
    CHECK_STR(err, msg);
    buf_free(&out);
}

#define REFUSED(in, rc, msg) check_refused((in), strlen(in), (rc), (msg))

TEST(malformed_timing_names_the_line)
{
    REFUSED(
        "1\n00:00:01,000 --> 00:00:02,000\nfine\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nfine\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nfine\n\n"
        "4\n00:01:02,000 -> 00:01:03\nbroken\n",
        SV_BAD_DATA,
        "line 14: timing \"00:01:02,000 -> 00:01:03\" is malformed (expected \"-->\" between "
        "the start and end times)");
    REFUSED(
        "1\n00:00:01,000 --> 00:00:02\nx\n", SV_BAD_DATA,
        "line 2: timing \"00:00:01,000 --> 00:00:02\" is malformed (expected '.' or ',' and "
        "milliseconds after the seconds)");
    REFUSED("1\n00:00:01,00 --> 00:00:02,000\nx\n", SV_BAD_DATA,
            "line 2: timing \"00:00:01,00 --> 00:00:02,000\" is malformed (milliseconds must "
            "have three digits)");
    REFUSED(
        "1\n00:61:01,000 --> 00:62:02,000\nx\n", SV_BAD_DATA,
        "line 2: timing \"00:61:01,000 --> 00:62:02,000\" is malformed (minutes and seconds "
        "must be below 60)");
    REFUSED("1\n01:00,000 --> 02:00,000\nx\n", SV_BAD_DATA,
            "line 2: timing \"01:00,000 --> 02:00,000\" is malformed (the hours are missing "
            "(SubRip times are H:MM:SS,mmm))");
    REFUSED(
        "1\n00:00:01,000 --> 00:00:02,000junk\nx\n", SV_BAD_DATA,
        "line 2: timing \"00:00:01,000 --> 00:00:02,000junk\" is malformed (unexpected text "
        "right after the end time)");
    REFUSED("1\nHello\n", SV_BAD_DATA,
            "line 2: expected the timing line of cue 1, found \"Hello\"");
    REFUSED("1\n\n00:00:01,000 --> 00:00:02,000\n", SV_BAD_DATA,
            "line 1: cue number 1 is not followed by a timing line");
    REFUSED("Hello there\n", SV_BAD_DATA,
            "line 1: expected a cue number or a timing line, found \"Hello there\"");
    REFUSED("WEBVTTX\n", SV_BAD_DATA,
            "line 1: expected a cue number or a timing line, found \"WEBVTTX\" (a WebVTT file "
            "starts with \"WEBVTT\" on its first line, alone or followed by a space)");
    REFUSED("WEBVTT\n\nid\ntext\n", SV_BAD_DATA,
            "line 4: expected the timing line of cue \"id\", found \"text\"");
    REFUSED("WEBVTT\n\nid only\n", SV_BAD_DATA,
            "line 3: cue identifier \"id only\" is not followed by a timing line");
    REFUSED("WEBVTT\n\n00:00.000 --> 00:01.000\nok\n-->\n", SV_BAD_DATA,
            "line 5: timing \"-->\" is malformed (a number is missing)");
    /* Long and odd lines are quoted cut and escaped. */
    REFUSED("1\n\"q\"\t00:00:01,000 --> 0123456789012345678901234567890123456789012345\n",
            SV_BAD_DATA,
            "line 2: timing \"\\\"q\\\"\\x0900:00:01,000 --> "
            "012345678901234567890123456789012345678...\" is malformed (a number is missing)");
}

TEST(cue_ending_before_it_starts_is_refused_with_its_line)
{
    REFUSED("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:05,000 --> 00:00:04,999\nbad\n",
            SV_BAD_DATA,
            "line 6: the cue ends at 00:00:04.999, before it starts at 00:00:05.000");
    REFUSED("WEBVTT\n\n01:00.000 --> 00:59.000\nbad\n", SV_BAD_DATA,
            "line 3: the cue ends at 00:00:59.000, before it starts at 00:01:00.000");
}

TEST(text_that_is_not_utf8_is_refused_with_the_byte_offset)
{
    REFUSED("1\n00:00:01,000 --> 00:00:02,000\ncaf\xE9\n", SV_BAD_DATA,
            "invalid UTF-8 at byte 35 (line 3): the file must be UTF-8 text");
    REFUSED("\xEF\xBB\xBF"
            "1\r\n00:00:01,000 --> 00:00:02,000\r\nover\xC0\xAFlong\r\n",
            SV_BAD_DATA, "invalid UTF-8 at byte 41 (line 3): the file must be UTF-8 text");
    REFUSED("WEBVTT\n\n00:00.000 --> 00:01.000\n\xED\xA0\x80 surrogate\n", SV_BAD_DATA,
            "invalid UTF-8 at byte 32 (line 4): the file must be UTF-8 text");
    check_refused("\xFF\xFE"
                  "1\0\n\0",
                  6, SV_BAD_DATA,
                  "the file is UTF-16 (it starts with a UTF-16 byte order mark); only UTF-8 is "
                  "accepted");
    check_refused("1\n\0", 3, SV_BAD_DATA,
                  "NUL byte at byte 2 (line 2): the file is not UTF-8 text (UTF-16 without a "
                  "byte order mark?)");
    check_refused("", 0, SV_BAD_DATA, "the file is empty: no cues");
    REFUSED(" \n\t\n", SV_BAD_DATA, "the file is empty: no cues");
}

TEST(ceilings_on_size_and_cue_count)
{
    char err[256] = "";
    buf_t in, out;
    size_t big = SUBTITLES_MAX_BYTES + 1;
    char *data = malloc(big);
    CHECK(data != NULL);
    if (data == NULL)
        return;
    memset(data, 'a', big);
    buf_init(&out, 1 << 26);
    CHECK_INT(subtitles_convert_buffer(data, big, &out, err, sizeof(err)), SV_TOO_BIG);
    CHECK_STR(err, "the file is 16777217 bytes; subtitles are limited to 16777216 bytes");
    free(data);
    buf_free(&out);

    buf_init(&in, 1 << 26);
    for (unsigned k = 0; k <= SUBTITLES_MAX_CUES; k++)
        buf_appendf(&in, "%u\n00:00:%02u,000 --> 00:00:%02u,500\nx\n\n", k + 1, k % 60, k % 60);
    buf_init(&out, 1 << 26);
    CHECK_INT(subtitles_convert_buffer(in.data, in.len, &out, err, sizeof(err)), SV_TOO_BIG);
    CHECK_STR(err, "more than 100000 cues");
    buf_free(&out);
    buf_free(&in);

    /* The output's own ceiling is the caller's buffer. */
    const char *one = "1\n00:00:01,000 --> 00:00:02,000\nsome text\n";
    buf_init(&out, 16);
    CHECK_INT(subtitles_convert_buffer(one, strlen(one), &out, err, sizeof(err)), SV_TOO_BIG);
    CHECK_STR(err, "the WebVTT output is larger than 16 bytes");
    buf_free(&out);
}

static const char subs_srt[] = "1\n"
                               "00:00:01,000 --> 00:00:02,500\n"
                               "Hello <i>world</i>\n"
                               "\n"
                               "2\n"
                               "00:00:03,000 --> 00:00:04,250\n"
                               "Line one\n"
                               "Line two & <b>bold</b>\n"
                               "\n"
                               "3\n"
                               "00:00:05,100 --> 00:00:06,000\n"
                               "<u>under</u> and plain\n";

static const char subs_vtt[] = "WEBVTT\n"
                               "\n"
                               "00:00:01.000 --> 00:00:02.500\n"
                               "Hello <i>world</i>\n"
                               "\n"
                               "00:00:03.000 --> 00:00:04.250\n"
                               "Line one\n"
                               "Line two &amp; <b>bold</b>\n"
                               "\n"
                               "00:00:05.100 --> 00:00:06.000\n"
                               "<u>under</u> and plain\n";

TEST(sidecar_files_convert_and_ffmpeg_reads_the_result)
{
    char err[256] = "", said[1024];
    size_t len = 0;
    write_file("subs.srt", subs_srt, sizeof(subs_srt) - 1);
    CHECK_INT(
        subtitles_convert_file(path_of("subs.srt"), path_of("subs.vtt"), err, sizeof(err)),
        SV_OK);
    char *got = read_file(path_of("subs.vtt"), &len);
    CHECK_STR(got, subs_vtt);
    free(got);
    CHECK_INT(hidden_files(), 0);
    ffmpeg_reading(path_of("subs.vtt"), said, sizeof(said));
    CHECK_STR(said, "");
    CHECK_INT(ffmpeg_cue_count(path_of("subs.vtt")), 3);

    /* A richer WebVTT: STYLE and REGION blocks (dropped), settings, tags. */
    const char *vtt = "WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\nREGION\nid:r1 width:40%\n\n"
                      "a\n00:01.000 --> 00:02.000 align:start region:r1\n<v Bob>hi</v> &amp;\n";
    write_file("rich.vtt", vtt, strlen(vtt));
    CHECK_INT(
        subtitles_convert_file(path_of("rich.vtt"), path_of("rich.out.vtt"), err, sizeof(err)),
        SV_OK);
    ffmpeg_reading(path_of("rich.out.vtt"), said, sizeof(said));
    CHECK_STR(said, "");
    CHECK_INT(ffmpeg_cue_count(path_of("rich.out.vtt")), 1);
    got = read_file(path_of("rich.out.vtt"), &len);
    CHECK_STR(got,
              "WEBVTT\n\na\n00:00:01.000 --> 00:00:02.000 align:start\n<v Bob>hi</v> &amp;\n");
    free(got);
}

TEST(sidecar_file_errors)
{
    char err[512] = "";
    CHECK_INT(
        subtitles_convert_file(path_of("missing.srt"), path_of("x.vtt"), err, sizeof(err)),
        SV_NOT_FOUND);
    CHECK(strstr(err, "No such file or directory") != NULL);
    write_file("ok.srt", subs_srt, sizeof(subs_srt) - 1);
    CHECK_INT(subtitles_convert_file(path_of("ok.srt"), path_of("no/such/dir/x.vtt"), err,
                                     sizeof(err)),
              SV_IO);
    CHECK(strstr(err, "cannot create a file next to") != NULL);
    printf("# %s\n", err);
    write_file("bad.srt", "1\n00:00:02,000 --> 00:00:01,000\nx\n", 34);
    CHECK_INT(subtitles_convert_file(path_of("bad.srt"), path_of("bad.vtt"), err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_STR(err, "line 2: the cue ends at 00:00:01.000, before it starts at 00:00:02.000");
    struct stat sb;
    CHECK(stat(path_of("bad.vtt"), &sb) != 0); /* nothing written on failure */
    CHECK_INT(hidden_files(), 0);
}

/* Extracts stream index of name and compares with the expected WebVTT. */
static void
check_extracted(const char *name, int index, const char *want)
{
    char err[512] = "", out[128], said[1024];
    size_t len = 0;
    snprintf(out, sizeof(out), "%s.vtt", name);
    int rc = subtitles_extract_stream(path_of(name), index, path_of(out), err, sizeof(err));
    CHECK_INT(rc, SV_OK);
    if (rc != SV_OK) {
        printf("# %s: %s\n", name, err);
        return;
    }
    char *got = read_file(path_of(out), &len);
    CHECK_STR(got, want);
    free(got);
    ffmpeg_reading(path_of(out), said, sizeof(said));
    CHECK_STR(said, "");
    CHECK_INT(ffmpeg_cue_count(path_of(out)), cue_count(want));
}

TEST(text_streams_in_mkv_and_mp4_become_the_same_webvtt)
{
    write_file("subs.srt", subs_srt, sizeof(subs_srt) - 1);
    const char *video = "-f lavfi -i testsrc=duration=7:size=160x120:rate=10 -i subs.srt "
                        "-map 0 -map 1 -c:v mpeg4";
    char args[512];
    snprintf(args, sizeof(args), "%s -c:s srt subrip.mkv", video);
    CHECK_INT(ffmpeg(args), 0);
    check_extracted("subrip.mkv", 1, subs_vtt);
    snprintf(args, sizeof(args), "%s -c:s mov_text movtext.mp4", video);
    CHECK_INT(ffmpeg(args), 0);
    check_extracted("movtext.mp4", 1, subs_vtt);
    snprintf(args, sizeof(args), "%s -c:s ass ass.mkv", video);
    CHECK_INT(ffmpeg(args), 0);
    check_extracted("ass.mkv", 1, subs_vtt);
    snprintf(args, sizeof(args), "%s -c:s webvtt webvtt.mkv", video);
    CHECK_INT(ffmpeg(args), 0);
    check_extracted("webvtt.mkv", 1, subs_vtt);
}

TEST(ass_overrides_become_tags_or_go)
{
    /* An .ass file: positioning, colours, comments dropped; \i \b \u kept
     * and properly nested; \N and \n are line breaks; \h a no-break space. */
    const char *ass =
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,"
        "0,1,1,0,2,10,10,10,1\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\pos(10,20)\\c&H00FF00&}Moved, "
        "green{comment}\n"
        "Dialogue: 0,0:00:03.00,0:00:04.50,Default,,0,0,0,,{\\i1}it {\\b1}both{\\i0} "
        "bold{\\b0}\\Nnext\\nline\\hend {\\u1}open\n"
        "Dialogue: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,{\\an8}{\\fad(100,100)}   \n";
    write_file("styled.ass", ass, strlen(ass));
    CHECK_INT(ffmpeg("-f lavfi -i testsrc=duration=7:size=160x120:rate=10 -i styled.ass -map 0 "
                     "-map 1 -c:v mpeg4 -c:s copy styled.mkv"),
              0);
    check_extracted("styled.mkv", 1,
                    "WEBVTT\n"
                    "\n"
                    "00:00:01.000 --> 00:00:02.000\n"
                    "Moved, green\n"
                    "\n"
                    "00:00:03.000 --> 00:00:04.500\n"
                    "<i>it <b>both</b></i><b> bold</b>\n"
                    "next\n"
                    "line\xC2\xA0"
                    "end <u>open</u>\n");
}

TEST(stream_errors_say_which_stream_and_why)
{
    char err[512] = "";
    size_t len = 0;
    write_file("subs.srt", subs_srt, sizeof(subs_srt) - 1);
    CHECK_INT(ffmpeg("-f lavfi -i testsrc=duration=7:size=160x120:rate=10 -i subs.srt -map 0 "
                     "-map 1 -c:v mpeg4 -c:s srt e.mkv"),
              0);
    CHECK_INT(subtitles_extract_stream(path_of("e.mkv"), 0, path_of("e.vtt"), err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_STR(err, "stream #0 is video (mpeg4), not subtitles");
    CHECK_INT(subtitles_extract_stream(path_of("e.mkv"), 7, path_of("e.vtt"), err, sizeof(err)),
              SV_NOT_FOUND);
    CHECK_STR(err, "stream #7 does not exist (the file has 2 streams)");
    CHECK_INT(subtitles_extract_stream(path_of("subs.srt.nope"), 0, path_of("e.vtt"), err,
                                       sizeof(err)),
              SV_NOT_FOUND);
    write_file("text.mkv", "just some words, not a video\n", 29);
    CHECK_INT(
        subtitles_extract_stream(path_of("text.mkv"), 0, path_of("e.vtt"), err, sizeof(err)),
        SV_BAD_DATA);
    printf("# text.mkv: %s\n", err);

    /* A bitmap stream: the same file with its codec id turned into VobSub
     * (Matroska strings may be padded with NULs). */
    char *mkv = read_file(path_of("e.mkv"), &len);
    CHECK(mkv != NULL);
    int patched = 0;
    for (size_t i = 0; mkv && i + 11 <= len; i++) {
        if (memcmp(mkv + i, "S_TEXT/UTF8", 11) == 0) {
            memcpy(mkv + i, "S_VOBSUB\0\0\0", 11);
            patched++;
        }
    }
    CHECK_INT(patched, 1);
    write_file("vobsub.mkv", mkv, len);
    free(mkv);
    CHECK_INT(
        subtitles_extract_stream(path_of("vobsub.mkv"), 1, path_of("e.vtt"), err, sizeof(err)),
        SV_UNSUPPORTED);
    CHECK_STR(err,
              "stream #1 is dvd_subtitle, a bitmap format; only text subtitles become WebVTT");
    struct stat sb;
    CHECK(stat(path_of("e.vtt"), &sb) != 0);
    CHECK_INT(hidden_files(), 0);
}

int
main(void)
{
    dir = tmpdir_make("subtitles");
    if (dir == NULL) {
        printf("not ok 1 - cannot make a temporary directory\n");
        return 1;
    }
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("not ok 1 - ffmpeg is required to make test media\n");
        tmpdir_remove();
        return 1;
    }
    RUN(srt_awkward_cases_become_clean_webvtt);
    RUN(vtt_features_are_kept_or_dropped);
    RUN(header_only_vtt_is_valid_and_empty);
    RUN(malformed_timing_names_the_line);
    RUN(cue_ending_before_it_starts_is_refused_with_its_line);
    RUN(text_that_is_not_utf8_is_refused_with_the_byte_offset);
    RUN(ceilings_on_size_and_cue_count);
    RUN(sidecar_files_convert_and_ffmpeg_reads_the_result);
    RUN(sidecar_file_errors);
    RUN(text_streams_in_mkv_and_mp4_become_the_same_webvtt);
    RUN(ass_overrides_become_tags_or_go);
    RUN(stream_errors_say_which_stream_and_why);
    tmpdir_remove();
    return test_done();
}
