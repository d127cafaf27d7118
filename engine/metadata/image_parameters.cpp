#include "metadata/image_parameters.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#ifndef DAUB_VERSION
#define DAUB_VERSION "0"
#endif

namespace daub {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(s[b]))
        ++b;
    while (e > b && is_space(s[e - 1]))
        --e;
    return s.substr(b, e - b);
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool equal_nocase(const std::string& a, const std::string& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool ends_with_nocase(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && equal_nocase(s.substr(s.size() - tail.size()), tail);
}

/// printf's "%g" with `precision` digits, whatever the C locale says.
std::string number(double value, int precision) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, precision);
    return std::string(buf, r.ptr);
}

template <typename T> std::optional<T> parse_number(const std::string& text) {
    T value{};
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, value);
    if (text.empty() || r.ec != std::errc() || r.ptr != end)
        return std::nullopt;
    return value;
}

/// A value that would break the settings line, quoted JSON-style (as
/// A1111's `quote()`); other values as they are. Also quoted, so that
/// they read back as they were (found by fuzzing): a value that starts
/// with a quote (written bare, a reader takes it for the start of a quoted
/// value and runs on into the next settings) and one with spaces at either
/// end (trimmed on reading).
std::string quote(const std::string& value) {
    if (value.find_first_of(",\n:") == std::string::npos && value.rfind('"', 0) != 0 &&
        trim(value) == value)
        return value;
    std::string out = "\"";
    for (char c : value) {
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + '"';
}

std::string unquote(const std::string& value) {
    if (value.size() < 2 || value.front() != '"' || value.back() != '"')
        return value;
    std::string out;
    for (size_t i = 1; i + 1 < value.size(); ++i) {
        char c = value[i];
        if (c == '\\' && i + 2 < value.size()) {
            c = value[++i];
            if (c == 'n')
                c = '\n';
        }
        out += c;
    }
    return out;
}

bool is_key_char(char c, bool first) {
    const bool word = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    return first ? word : word || c == ' ' || c == '-' || c == '/';
}

/// The "Key: value" settings of A1111's last line. A value is "quoted" or
/// runs to the next comma; a piece without a proper key is skipped.
std::vector<std::pair<std::string, std::string>> settings_of(const std::string& line) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t pos = 0;
    const size_t n = line.size();
    auto skip_to_next = [&] {
        const size_t comma = line.find(',', pos);
        pos = comma == std::string::npos ? n : comma + 1;
    };
    while (pos < n) {
        while (pos < n && is_space(line[pos]))
            ++pos;
        size_t k = pos;
        while (k < n && is_key_char(line[k], k == pos))
            ++k;
        if (k >= n || line[k] != ':' || k - pos < 2) {
            skip_to_next();
            continue;
        }
        const std::string key = trim(line.substr(pos, k - pos));
        pos = k + 1;
        while (pos < n && is_space(line[pos]))
            ++pos;
        std::string value;
        if (pos < n && line[pos] == '"') {
            size_t q = pos + 1;
            while (q < n && line[q] != '"')
                q += line[q] == '\\' ? 2 : 1;
            if (q < n) {
                value = line.substr(pos, q + 1 - pos);
                pos = q + 1;
            }
        }
        const size_t comma = line.find(',', pos);
        const size_t end = comma == std::string::npos ? n : comma;
        value += line.substr(pos, end - pos);
        pos = comma == std::string::npos ? n : comma + 1;
        out.emplace_back(key, unquote(trim(value)));
    }
    return out;
}

} // namespace

const std::vector<SamplerName>& sampler_names() {
    // PNDM with skip_prk_steps, the SD 1.5 default, is what A1111 calls PLMS.
    static const std::vector<SamplerName> names = {
        {"euler_a", "Euler a"}, {"euler", "Euler"},   {"dpmpp_2m", "DPM++ 2M"},
        {"dpmpp_2m_karras", "DPM++ 2M Karras"},      {"ddim", "DDIM"},
        {"pndm", "PLMS"},       {"lms", "LMS"},       {"heun", "Heun"},
        {"dpmpp_2m_sde_karras", "DPM++ 2M SDE Karras"},
    };
    return names;
}

std::string sampler_label(const std::string& scheduler) {
    for (const SamplerName& s : sampler_names())
        if (scheduler == s.scheduler)
            return s.label;
    return scheduler;
}

std::string scheduler_from_label(const std::string& label, const std::string& schedule_type) {
    std::string name = trim(label);
    if (equal_nocase(trim(schedule_type), "Karras") && !ends_with_nocase(name, " Karras"))
        name += " Karras";
    for (const SamplerName& s : sampler_names())
        if (equal_nocase(name, s.label) || equal_nocase(name, s.scheduler))
            return s.scheduler;
    if (equal_nocase(name, "PNDM"))
        return "pndm";
    return "";
}

std::string format_parameters_text(const ImageParameters& p) {
    std::string text = p.prompt;
    if (!p.negative_prompt.empty())
        text += "\nNegative prompt: " + p.negative_prompt;
    std::vector<std::string> fields;
    fields.push_back("Steps: " + std::to_string(p.steps));
    if (!p.scheduler.empty())
        fields.push_back("Sampler: " + quote(sampler_label(p.scheduler)));
    fields.push_back("CFG scale: " + number(p.cfg_scale, 6));
    fields.push_back("Seed: " + std::to_string(p.seed));
    fields.push_back("Size: " + std::to_string(p.width) + "x" + std::to_string(p.height));
    if (!p.model.empty())
        fields.push_back("Model: " + quote(p.model));
    if (!p.vae.empty()) // A1111: the VAE file's name, after the model's
        fields.push_back("VAE: " + quote(p.vae));
    // A1111's txt2img writes its hires pass's strength as "Denoising strength".
    const bool hires = p.upscale > 0 && p.refine_strength.has_value();
    const std::optional<double> denoise =
        p.denoising_strength ? p.denoising_strength : hires ? p.refine_strength : std::nullopt;
    if (denoise)
        fields.push_back("Denoising strength: " + number(*denoise, 4));
    if (p.clip_skip > 1)
        fields.push_back("Clip skip: " + std::to_string(p.clip_skip));
    if (hires) {
        fields.push_back("Hires upscale: " + number(p.upscale, 4));
        if (!p.upscaler.empty())
            fields.push_back("Hires upscaler: " + quote(p.upscaler));
        if (p.denoising_strength)
            fields.push_back("Hires denoising strength: " + number(*p.refine_strength, 4));
    } else if (p.upscale > 0) {
        fields.push_back("Postprocess upscale by: " + number(p.upscale, 4));
        if (!p.upscaler.empty())
            fields.push_back("Postprocess upscaler: " + quote(p.upscaler));
    }
    fields.push_back(std::string("Version: Daub ") + DAUB_VERSION);
    text += '\n';
    for (size_t i = 0; i < fields.size(); ++i)
        text += (i ? ", " : "") + fields[i];
    return text;
}

std::optional<ImageParameters> parse_parameters_text(const std::string& input) {
    std::vector<std::string> lines;
    const std::string text = trim(input);
    for (size_t start = 0;;) {
        const size_t nl = text.find('\n', start);
        lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos)
            break;
        start = nl + 1;
    }
    const auto settings = settings_of(lines.back());
    lines.pop_back();
    if (settings.size() < 3)
        return std::nullopt;

    ImageParameters p;
    p.scheduler.clear();
    // The prompt's lines, then from "Negative prompt:" on the negative's.
    std::vector<std::string> prompt, negative_prompt;
    for (std::string line : lines) {
        line = trim(line);
        if (line.rfind("Negative prompt:", 0) == 0 && negative_prompt.empty()) {
            negative_prompt.push_back(trim(line.substr(16)));
            continue;
        }
        (negative_prompt.empty() ? prompt : negative_prompt).push_back(line);
    }
    auto join = [](const std::vector<std::string>& parts) {
        std::string out;
        for (size_t i = 0; i < parts.size(); ++i)
            out += (i ? "\n" : "") + parts[i];
        return out;
    };
    p.prompt = join(prompt);
    p.negative_prompt = join(negative_prompt);

    std::string sampler, schedule_type;
    std::string hires_upscaler, postprocess_upscaler;
    std::optional<double> hires_upscale, hires_denoise, postprocess_upscale;
    auto positive = [](const std::string& text) {
        const auto v = parse_number<double>(text);
        return v && *v > 0 ? v : std::nullopt;
    };
    bool any_known = false;
    for (const auto& [key, value] : settings) {
        bool ok = true;
        if (key == "Steps") {
            const auto v = parse_number<int>(value);
            ok = v.has_value();
            p.steps = v.value_or(p.steps);
        } else if (key == "Sampler") {
            sampler = value;
        } else if (key == "Schedule type") {
            schedule_type = value;
        } else if (key == "CFG scale") {
            const auto v = parse_number<double>(value);
            ok = v.has_value();
            p.cfg_scale = v.value_or(p.cfg_scale);
        } else if (key == "Seed") {
            const auto v = parse_number<int64_t>(value);
            ok = v.has_value();
            p.seed = v.value_or(p.seed);
        } else if (key == "Size") {
            const size_t x = value.find('x');
            const auto w = x == std::string::npos ? std::nullopt : parse_number<int>(value.substr(0, x));
            const auto h = x == std::string::npos ? std::nullopt : parse_number<int>(value.substr(x + 1));
            ok = w && h;
            if (ok) {
                p.width = *w;
                p.height = *h;
            }
        } else if (key == "Model") {
            p.model = value;
        } else if (key == "VAE") {
            p.vae = value;
        } else if (key == "Denoising strength") {
            p.denoising_strength = parse_number<double>(value);
            ok = p.denoising_strength.has_value();
        } else if (key == "Clip skip") {
            const auto v = parse_number<int>(value);
            ok = v.has_value();
            p.clip_skip = v.value_or(p.clip_skip);
        } else if (key == "Hires upscale") {
            hires_upscale = positive(value);
            ok = hires_upscale.has_value();
        } else if (key == "Hires upscaler") {
            hires_upscaler = value;
        } else if (key == "Hires denoising strength") {
            hires_denoise = parse_number<double>(value);
            ok = hires_denoise.has_value();
        } else if (key == "Postprocess upscale by") {
            postprocess_upscale = positive(value);
            ok = postprocess_upscale.has_value();
        } else if (key == "Postprocess upscaler") {
            postprocess_upscaler = value;
        } else {
            continue;
        }
        if (!ok)
            return std::nullopt;
        any_known = true;
    }
    if (!any_known)
        return std::nullopt;
    if (!sampler.empty())
        p.scheduler = scheduler_from_label(sampler, schedule_type);
    if (hires_upscale) {
        // A hires fix: upscaled, then refined at "Denoising strength" (or,
        // after an img2img first pass, at "Hires denoising strength").
        p.upscale = *hires_upscale;
        p.upscaler = hires_upscaler;
        if (hires_denoise) {
            p.refine_strength = hires_denoise;
        } else {
            p.refine_strength = p.denoising_strength;
            p.denoising_strength.reset();
        }
    } else if (postprocess_upscale) {
        p.upscale = *postprocess_upscale;
        p.upscaler = postprocess_upscaler;
    }
    return p;
}

} // namespace daub
