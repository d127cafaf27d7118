// The chat: one row per message, oldest first. A generation is two rows,
// the user's prompt (text, settings, init thumbnail) and Daub's reply
// (status, progress, live preview, then the image); notices are Daub's
// one-sentence answers to things that went wrong or need a choice.
//
// ChatController is the only writer; QML reads it through a ListView whose
// delegate picks a component by the `kind` role.
#pragma once

#include <QAbstractListModel>
#include <QDateTime>
#include <QHash>
#include <QString>
#include <QtQml/qqmlregistration.h>

#include <vector>

namespace daub {

enum class JobPhase; // enginebackend.h

class MessageModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("MessageModel belongs to ChatController")
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    enum class Kind { Prompt, Reply, Notice };
    Q_ENUM(Kind)
    /// A reply's status (mirrors JobQueue::State, plus waiting for a model).
    enum class Status { None, Queued, WaitingForModel, Running, Done, Failed, Cancelled };
    Q_ENUM(Status)

    enum Role {
        KindRole = Qt::UserRole + 1, /**< Kind: which component shows the row */
        JobIdRole,           /**< the generation this row belongs to; -1 for notices */
        TextRole,            /**< prompt text, or the notice's sentence, or the failure */
        DetailsRole,         /**< prompt: one line of settings ("64×64 · 20 steps · …") */
        NegativePromptRole,  /**< prompt: the negative prompt, "" if none */
        InitImageSourceRole, /**< prompt: URL of the init image thumbnail, "" for txt2img */
        StatusRole,          /**< reply: Status */
        StatusTextRole,      /**< reply: status in words ("Step 3/10 · 1.2 s", "Upscaling · tile 2/6") */
        QueuePositionRole,   /**< reply: 1 = next in line; 0 when not waiting */
        StepRole,            /**< reply: steps done */
        TotalStepsRole,      /**< reply: steps this job runs (0 until known) */
        ElapsedMsRole,       /**< reply: time spent running so far, or in total */
        PreviewSourceRole,   /**< reply: URL of the live preview, changes every step */
        ImageSourceRole,     /**< reply: URL of the finished image */
        ImageWidthRole,      /**< reply: finished image size */
        ImageHeightRole,
        SeedRole,            /**< reply: the seed that made the image */
        FromCacheRole,       /**< reply: the image came from the result cache */
        ParametersRole,      /**< reply: the image's A1111 text; notice: offered parameters */
        ActionRole,          /**< notice: the offered action ("useParameters") or "" */
        TimeRole,            /**< when the row was added */
        ImagesRole,          /**< reply of a batch: [{jobId, status, imageSource, width, height, seed}] */
        BatchSizeRole,       /**< reply: images of its batch (1 for a single job) */
        DeletedRole,         /**< reply: its image was deleted from the history (gallery) */
    };
    Q_ENUM(Role)

    /// One image of a batch's reply.
    struct BatchImage {
        qint64 jobId = -1;
        Status status = Status::Queued;
        QString imageSource;
        int width = 0;
        int height = 0;
        qint64 seed = -1;
        QString parameters;
        QString error;
        bool deleted = false; ///< deleted from the history (the gallery)
    };
    struct Message {
        Kind kind = Kind::Notice;
        qint64 jobId = -1;
        QString text;
        QString details;
        QString negativePrompt;
        QString initImageSource;
        Status status = Status::None;
        QString statusText;
        int queuePosition = 0;
        int step = 0;
        int totalSteps = 0;
        double elapsedMs = 0;
        QString previewSource;
        QString imageSource;
        int imageWidth = 0;
        int imageHeight = 0;
        qint64 seed = -1;
        bool fromCache = false;
        bool cancelling = false;
        QString parameters;
        QString action;
        QDateTime time;
        /// A batch's images, in seed order (empty for a single job); the
        /// row's own fields follow the member that runs, then the summary.
        std::vector<BatchImage> images;
        bool deleted = false; ///< deleted from the history (every image of a batch)
    };

    explicit MessageModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return int(m_rows.size()); }

    /// The user's prompt row.
    void addPrompt(qint64 jobId, const QString& prompt, const QString& negativePrompt,
                   const QString& details, const QString& initImageSource);
    /// Daub's reply row for a job, queued. With `batch` (the id of the
    /// batch's first job, whose reply exists) the job joins that reply's
    /// grid instead of getting a row.
    void addReply(qint64 jobId, qint64 batch = -1);
    /// A notice; `action` names a button the UI offers ("" for none).
    void addNotice(const QString& text, const QString& action = {},
                   const QString& parameters = {});

    /// Waiting: `position` 1 = next in line; `ahead` jobs run before it.
    void setQueued(qint64 jobId, int position, int ahead, bool waitingForModel);
    void setRunning(qint64 jobId);
    /// A step of the denoising (or a tile of the upscaler, or a step of
    /// the refine pass: `phase`) done.
    void setProgress(qint64 jobId, int step, int total, double elapsedMs,
                     const QString& previewSource, JobPhase phase);
    void setDone(qint64 jobId, const QString& imageSource, int width, int height, qint64 seed,
                 double elapsedMs, bool fromCache, const QString& parameters);
    /// The running job was asked to stop; it ends at the next step.
    void setCancelling(qint64 jobId);
    void setFailed(qint64 jobId, const QString& message);
    void setCancelled(qint64 jobId);

    /// A finished job's image was deleted from the history (or brought back
    /// by an undo): the reply says so instead of showing it.
    void setDeleted(qint64 jobId, bool deleted);
    /// Jobs whose reply shows a finished image (with batch members).
    QList<qint64> finishedJobs() const;
    /// Rows from the history (a page of older messages, oldest first) put
    /// above the current ones; their `time` is kept.
    void insertOlder(std::vector<Message> rows);
    /// The reply row of a job, or nullptr.
    const Message* reply(qint64 jobId) const;
    const Message& at(int row) const { return m_rows[size_t(row)]; }
    Q_INVOKABLE void clear();

Q_SIGNALS:
    void countChanged();

private:
    void append(Message message);
    template <typename Change> void updateReply(qint64 jobId, Change change);
    /// A batch member ended: its image's state, and the row's summary once
    /// every member has.
    void endBatchImage(Message& m, qint64 jobId, Status status);

    std::vector<Message> m_rows;
    QHash<qint64, int> m_replyRow; ///< job -> row of its reply
};

/// "1.2 s", "850 ms", "2 min 05 s".
QString formatDuration(double milliseconds);

} // namespace daub
