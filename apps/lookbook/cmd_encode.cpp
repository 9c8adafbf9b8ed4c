// `lookbook encode`: one text or image through a CLIP or ALIGN model folder; prints the token ids
// (text), the embedding and its L2-normalised form.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "commands.hpp"
#include "lookbook/encoders/cpu_threads.hpp"
#include "lookbook/encoders/encoder.hpp"

namespace lookbook::cli {
namespace {

struct EncodeArgs {
    std::string model;
    std::string text;
    std::string image;
    bool json = false;
};

int fail(const Status& status) {
    std::cerr << "lookbook encode: " << status.message() << "\n";
    return kExitFailure;
}

int run_encode(const EncodeArgs& args, bool has_text) {
    configure_cpu_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    // The folder's config decides the model: CLIP (HF or OpenCLIP) or ALIGN.
    auto model = load_encoder(args.model);
    if (!model.is_ok()) {
        return fail(model.status());
    }
    Encoder& encoder = **model;
    Result<torch::Tensor> output = Status::internal("nothing encoded");
    std::vector<int64_t> token_ids;
    if (has_text) {
        auto ids = encoder.token_ids(args.text);
        if (!ids.is_ok()) {
            return fail(ids.status());
        }
        token_ids = std::move(ids).value();
        output = encoder.encode_texts({args.text});
    } else {
        auto image = decode_image_file(args.image);
        if (!image.is_ok()) {
            return fail(image.status());
        }
        output = encoder.encode_images({*image});
    }
    if (!output.is_ok()) {
        return fail(output.status());
    }
    torch::Tensor row = output->reshape({-1}).contiguous();  // [dim]
    // Same eps as torch.nn.functional.normalize, so a zero vector stays zero.
    torch::Tensor unit = row / row.norm().clamp_min(1e-12);
    const std::vector<float> embedding(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
    const std::vector<float> normalized(unit.data_ptr<float>(),
                                        unit.data_ptr<float>() + unit.numel());

    // JSON: floats print as shortest round-trip values, so nothing is lost.
    if (args.json) {
        nlohmann::json out;
        out["model"] = args.model;
        out["model_type"] = encoder.kind();
        out[has_text ? "text" : "image"] = has_text ? args.text : args.image;
        if (has_text) {
            out["token_ids"] = token_ids;
        }
        out["embedding"] = embedding;
        out["normalized"] = normalized;
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    if (has_text) {
        std::cout << fmt::format(
            "token_ids ({}): {}\n", token_ids.size(), fmt::join(token_ids, " "));
    }
    std::cout << fmt::format(
        "embedding ({}): {:.7g}\n", embedding.size(), fmt::join(embedding, " "));
    std::cout << fmt::format(
        "normalized ({}): {:.7g}\n", normalized.size(), fmt::join(normalized, " "));
    return kExitOk;
}

}  // namespace

void add_encode_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<EncodeArgs>();
    CLI::App* cmd =
        app.add_subcommand("encode", "Print the CLIP or ALIGN embedding of one text or image");
    cmd->add_option("--model",
                    args->model,
                    "Model folder (CLIP: Hugging Face or OpenCLIP layout; ALIGN: Hugging Face)")
        ->required();
    CLI::Option* text = cmd->add_option("--text", args->text, "Text to encode");
    CLI::Option* image = cmd->add_option("--image", args->image, "Image file to encode");
    text->excludes(image);
    cmd->add_flag("--json", args->json, "Print JSON instead of text");
    cmd->callback([args, selected, text, image] {
        if (text->count() == 0 && image->count() == 0) {
            throw CLI::RequiredError("--text or --image");
        }
        const bool has_text = text->count() > 0;
        *selected = [args, has_text] { return run_encode(*args, has_text); };
    });
}

}  // namespace lookbook::cli
