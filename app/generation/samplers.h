// The samplers the UI offers, from the engine's table
// (metadata/image_parameters.h: Daub's names and A1111's labels).
#pragma once

#include <QString>
#include <QVariantList>

namespace daub::samplers {

/// [{id, label}] for the UI; id "" means the model's own scheduler.
QVariantList forUi(const QString& modelDefault = {});
/// The engine name -> A1111's sampler name ("euler_a" -> "Euler a").
QString a1111Name(const QString& engineName);

} // namespace daub::samplers
