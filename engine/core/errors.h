// Typed exceptions of the engine. Every message is one sentence a user can
// act on; the app shows what() as is.
#pragma once

#include <stdexcept>
#include <string>

namespace daub {

/// Base of every error the engine throws on purpose.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A model file or folder is missing, corrupt or inconsistent.
class ModelError : public Error {
public:
    using Error::Error;
};

/// A file is a kind of model Daub recognises but does not run (SD 2.x,
/// SDXL inpainting, pickle checkpoints, LoRA...).
class UnsupportedModelError : public ModelError {
public:
    using ModelError::ModelError;
};

/// A safetensors file is malformed (header, offsets, dtypes, shapes).
class FormatError : public ModelError {
public:
    using ModelError::ModelError;
};

/// A generation request has an invalid argument.
class RequestError : public Error {
public:
    using Error::Error;
};

/// An image could not be read or written.
class ImageError : public Error {
public:
    using Error::Error;
};

/// The job was cancelled through its CancelToken.
class CancelledError : public Error {
public:
    CancelledError() : Error("The generation was cancelled.") {}
    /// What was cancelled, in one sentence ("Loading the model was cancelled.").
    explicit CancelledError(const std::string& what) : Error(what) {}
};

} // namespace daub
