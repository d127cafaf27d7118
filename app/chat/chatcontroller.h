// The chat window's front end: what the composer and the results call.
//
//   send(prompt, negative)          the composer's Send: a JobRecipe from the
//                                   options (seeds seed..seed+n-1 for a batch)
//                                   submitted to the GenerationCore
//   GenerationCore::jobQueued …     every job of every front end (the API's
//   jobFinished / jobFailed         too): a prompt row and a reply row, its
//                                   progress, previews and image
//   result actions (save, copy, …)  by job id, from the core (this session's
//                                   results or the history, also after a
//                                   restart)
//   setInitImage… / dropImage /     InitImageIntake (owned here, a QML
//   pasteImage                      singleton of its own)
//
// The queue, the engine and the history are the core's; the chat only
// submits and follows. GUI thread only. Exposed to QML as the
// ChatController singleton.
#pragma once

#include "chat/initimageintake.h"
#include "chat/messagemodel.h"
#include "generation/generationcore.h"

#include <QObject>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <optional>

class QQmlEngine;
class QJSEngine;

namespace daub {

class AppSettings;
class ImageBank;

class ChatController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(daub::MessageModel* messages READ messages CONSTANT)
    Q_PROPERTY(daub::JobQueue* queue READ queue CONSTANT)
    /// Older messages are in the history (loadOlder() brings a page).
    Q_PROPERTY(bool hasOlderMessages READ hasOlderMessages NOTIFY historyChanged)
    /// The history could not be opened (one sentence); "" when it works.
    Q_PROPERTY(QString historyError READ historyError NOTIFY historyChanged)

public:
    /// Messages (jobs) restored at start and brought per loadOlder().
    static constexpr int kHistoryPage = 30;

    ChatController(GenerationCore* core, AppSettings* settings, ImageBank* bank,
                   QObject* parent = nullptr);
    ~ChatController() override;

    static ChatController* create(QQmlEngine*, QJSEngine*);
    /// The QML singletons: this, and its InitImageIntake.
    static void setInstance(ChatController* instance);

    /// Shows the last page of the core's history (set on the core first).
    /// `warning`: what open() said about a history it had to set aside.
    void showHistory(const QString& warning = {});
    /// Why there is no history ("" when there is one).
    void setHistoryError(const QString& sentence);

    GenerationCore* core() const { return m_core; }
    ModelController* models() { return m_core->models(); }
    InitImageIntake* intake() { return &m_intake; }

    // ---- the composer and the options -----------------------------------
    /// Queues a generation from the prompt and the options (the batch count
    /// of them, seeds seed, seed+1, …); returns the (first) job id, or -1
    /// (and a notice in the chat) when nothing can run.
    Q_INVOKABLE qint64 send(const QString& prompt, const QString& negativePrompt = {});
    Q_INVOKABLE bool cancel(qint64 jobId) { return m_core->cancel(jobId); }
    /// Esc: cancels the running job and the rest of its Send (a batch's
    /// waiting images), saying so when there were more than one.
    Q_INVOKABLE void cancelRunningSend();
    /// Steps an img2img job runs: the engine's img2img_steps().
    Q_INVOKABLE int stepsToRun(int steps, double strength) const;
    /// A new random seed (the dice).
    Q_INVOKABLE qint64 randomSeed() const;
    /// Fills the options and the composer from an A1111 `parameters` text.
    Q_INVOKABLE bool applyParameters(const QString& text);
    /// Brings the previous page of the conversation from the history;
    /// false when there is none.
    Q_INVOKABLE bool loadOlder();

    // ---- a result's actions (any job id: this session's or the history's)
    /// Saves the PNG into the save folder; returns its path ("" on failure).
    Q_INVOKABLE QString saveResult(qint64 jobId);
    Q_INVOKABLE bool saveResultAs(qint64 jobId, const QUrl& file);
    /// What Save as… proposes in the save folder: the prompt's first words
    /// and the seed ("a-red-fox-42.png").
    Q_INVOKABLE QUrl suggestedSaveUrl(qint64 jobId) const;
    Q_INVOKABLE bool copyResult(qint64 jobId);
    /// A file for dragging the image out to other programs.
    Q_INVOKABLE QUrl exportForDrag(qint64 jobId);
    Q_INVOKABLE void useResultAsInit(qint64 jobId);
    /// The same job again, same seed; returns the new job id or -1.
    Q_INVOKABLE qint64 rerun(qint64 jobId);
    /// Upscales a result by the options' level, as a job of its own;
    /// returns the new job id or -1 (a notice says why).
    Q_INVOKABLE qint64 upscaleResult(qint64 jobId);
    /// Upscales a result then refines it (img2img at the options' refine
    /// strength, same prompt and seed); the new job id or -1.
    Q_INVOKABLE qint64 refineResult(qint64 jobId);
    /// Upscales the init image as a job of its own; the new job id or -1.
    Q_INVOKABLE qint64 upscaleInitImage();
    Q_INVOKABLE QString parametersOf(qint64 jobId) const;
    /// The newest job that has an image (this session's, else the
    /// history's), or -1: what Ctrl+S saves when no result is selected.
    Q_INVOKABLE qint64 latestResult() const { return m_core->latestResult(); }

    MessageModel* messages() { return &m_messages; }
    JobQueue* queue() { return m_core->queue(); }
    bool hasOlderMessages() const { return m_hasOlder; }
    QString historyError() const { return m_historyError; }

    /// The recipe of a job (this session's, or the history's), or nullopt.
    std::optional<JobRecipe> recipe(qint64 jobId) const { return m_core->recipe(jobId); }

Q_SIGNALS:
    /// A result was written to `path` (Save).
    void resultSaved(qint64 jobId, const QString& path);
    /// The composer should show this text (applyParameters).
    void promptSuggested(const QString& prompt, const QString& negativePrompt);
    void historyChanged();

private:
    // What the core reports, shown.
    void jobQueued(qint64 jobId);
    void jobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview,
                     int phase);
    void jobFinished(qint64 jobId, double elapsedMs, bool fromCache);
    void jobEnded(qint64 jobId); ///< failed or cancelled: the preview goes
    void updateQueuePositions();

    /// An Upscale job from the options' upscaler and level (refined with
    /// `recipe` when `refine`); -1 with a notice when it cannot run.
    qint64 upscale(const QImage& image, const QString& name, JobRecipe recipe, bool refine,
                   const QString& heldRef = {});
    /// upscaleResult / refineResult.
    qint64 upscaleOfResult(qint64 jobId, bool refine);
    /// Refuses (with a notice) when no model is loaded or on its way.
    bool modelExpected(const QString& then);
    void notice(const QString& text);
    QString modelSampler() const { return m_core->models()->model().defaultSampler; }
    /// The history changed (the gallery deleted or restored images): the
    /// chat's finished replies follow.
    void followHistory();

    GenerationCore* m_core;
    AppSettings* m_settings;
    ImageBank* m_bank;
    QString m_historyError;
    qint64 m_oldestShown = -1; ///< id of the oldest job shown (-1: none yet)
    bool m_hasOlder = false;
    InitImageIntake m_intake;
    MessageModel m_messages;
};

} // namespace daub
