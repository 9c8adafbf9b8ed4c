// `lookbook encode`: one text or image through a CLIP model folder; prints the token ids (text),
// the embedding and its L2-normalised form.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/encoders/clip_encode.hpp"

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
    auto model = ClipModel::load(args.model);
    if (!model.is_ok()) {
        return fail(model.status());
    }
    Result<ClipEncoding> encoded = Status::internal("nothing encoded");
    if (has_text) {
        auto tokenizer = ClipTokenizer::from_model_dir(args.model);
        if (!tokenizer.is_ok()) {
            return fail(tokenizer.status());
        }
        encoded = encode_clip_text(**model, *tokenizer, args.text);
    } else {
        encoded = encode_clip_image_file(**model, args.image);
    }
    if (!encoded.is_ok()) {
        return fail(encoded.status());
    }

    // JSON: floats print as shortest round-trip values, so nothing is lost.
    if (args.json) {
        nlohmann::json out;
        out["model"] = args.model;
        out[has_text ? "text" : "image"] = has_text ? args.text : args.image;
        if (has_text) {
            out["token_ids"] = encoded->token_ids;
        }
        out["embedding"] = encoded->embedding;
        out["normalized"] = encoded->normalized;
        std::cout << out.dump() << "\n";
        return kExitOk;
    }
    if (has_text) {
        std::cout << fmt::format(
            "token_ids ({}): {}\n", encoded->token_ids.size(), fmt::join(encoded->token_ids, " "));
    }
    std::cout << fmt::format(
        "embedding ({}): {:.7g}\n", encoded->embedding.size(), fmt::join(encoded->embedding, " "));
    std::cout << fmt::format("normalized ({}): {:.7g}\n",
                             encoded->normalized.size(),
                             fmt::join(encoded->normalized, " "));
    return kExitOk;
}

}  // namespace

void add_encode_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<EncodeArgs>();
    CLI::App* cmd = app.add_subcommand("encode", "Print the CLIP embedding of one text or image");
    cmd->add_option("--model", args->model, "Model folder (Hugging Face or OpenCLIP layout)")
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
