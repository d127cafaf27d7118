// The samplers a request may name: the engine's names, the labels the UI
// shows, and the names A1111 writes in its `parameters` text.
#pragma once

#include <QString>
#include <QVariantList>

namespace daub::samplers {

/// [{id, label}] for the UI; id "" means the model's own scheduler.
QVariantList forUi(const QString& modelDefault = {});
/// The engine name -> A1111's sampler name ("euler_a" -> "Euler a").
QString a1111Name(const QString& engineName);
/// A1111's sampler (+ "Schedule type") -> the engine name, or "" if unknown.
QString fromA1111(const QString& sampler, const QString& scheduleType = {});
/// All engine names, in UI order.
QStringList engineNames();

} // namespace daub::samplers
